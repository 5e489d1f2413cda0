import { createHttpApp } from '@tally/platform';
import { UpstreamExampleModule } from './app.module';
import { UpstreamConfig } from './config/upstream.config';

export function bootstrapUpstreamExample(config: UpstreamConfig, options: { shutdownHooks?: boolean } = {}) {
  return createHttpApp(UpstreamExampleModule.forRoot(config), {
    title: 'Example upstream service',
    description: "Routes guarded by @RequireAction: each asks Tally auth's verify before it runs.",
    host: config.HOST,
    port: config.PORT,
    shutdownHooks: options.shutdownHooks,
    document: (builder) => builder.addApiKey({ type: 'apiKey', in: 'header', name: 'x-api-key' }, 'api-key'),
  });
}
