import { Controller, Get, Header } from '@nestjs/common';
import { ApiOperation, ApiProduces, ApiResponse, ApiTags } from '@nestjs/swagger';
import { OPS_PAGE_HTML } from './ops-page.html';

/**
 * The ops page. It is public: it holds no data, and every read it makes needs the ops service
 * token, typed into the page.
 */
@ApiTags('ops')
@Controller('ops')
export class OpsPageController {
  @Get()
  @Header('content-type', 'text/html; charset=utf-8')
  @Header('content-security-policy', "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'")
  @Header('cache-control', 'no-store')
  @ApiOperation({ summary: "The ops page: an organization's balance, burn-down, usage by day and recent alerts." })
  @ApiProduces('text/html')
  @ApiResponse({ status: 200, description: 'The page' })
  page(): string {
    return OPS_PAGE_HTML;
  }
}
