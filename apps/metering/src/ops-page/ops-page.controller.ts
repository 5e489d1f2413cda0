import { Controller, Get, Header } from '@nestjs/common';
import { ApiExcludeEndpoint, ApiOperation, ApiProduces, ApiResponse, ApiTags } from '@nestjs/swagger';
import { OPS_CONSOLE_CSS, OPS_CONSOLE_HTML } from './ops-console.html';
import { OPS_CONSOLE_JS } from './ops-console.script';

/** Same origin only: the console's own script and style, and its calls to this service's ops API. */
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/**
 * The ops console (docs/OPS-CONSOLE.md). Its document, script and style are public and hold no
 * data: everything it shows is read from the ops endpoints with the service credential the
 * operator signs in with (kept in the tab's sessionStorage).
 */
@ApiTags('ops')
@Controller('ops')
export class OpsPageController {
  @Get()
  @Header('content-type', 'text/html; charset=utf-8')
  @Header('content-security-policy', CSP)
  @Header('x-content-type-options', 'nosniff')
  @Header('referrer-policy', 'no-referrer')
  @Header('cache-control', 'no-store')
  @ApiOperation({
    summary:
      'The ops console: sign in with the ops service credential, then the fleet (balances, burn, time to empty, alerts, pipeline health) and each organization (packages, usage, sandboxes, ledger with explain, alerts).',
  })
  @ApiProduces('text/html')
  @ApiResponse({ status: 200, description: 'The page (no data: it reads the ops endpoints once signed in)' })
  page(): string {
    return OPS_CONSOLE_HTML;
  }

  @Get('console.js')
  @Header('content-type', 'text/javascript; charset=utf-8')
  @Header('x-content-type-options', 'nosniff')
  @Header('cache-control', 'no-cache')
  @ApiExcludeEndpoint()
  script(): string {
    return OPS_CONSOLE_JS;
  }

  @Get('console.css')
  @Header('content-type', 'text/css; charset=utf-8')
  @Header('x-content-type-options', 'nosniff')
  @Header('cache-control', 'no-cache')
  @ApiExcludeEndpoint()
  style(): string {
    return OPS_CONSOLE_CSS;
  }
}
