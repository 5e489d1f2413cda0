import { DynamicModule, Global, Module } from '@nestjs/common';
import { ApiKeyGuard } from './api-key.guard';
import { VerifyClient, VerifyClientOptions } from './verify-client';

/** Import once in an upstream app: `ApiKeyGuardModule.forRoot({authUrl, serviceToken})`. */
@Global()
@Module({})
export class ApiKeyGuardModule {
  static forRoot(options: VerifyClientOptions): DynamicModule {
    return {
      module: ApiKeyGuardModule,
      providers: [{ provide: VerifyClient, useValue: new VerifyClient(options) }, ApiKeyGuard],
      exports: [VerifyClient, ApiKeyGuard],
    };
  }
}
