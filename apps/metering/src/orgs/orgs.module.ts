import { Module } from '@nestjs/common';
import { OrgsController } from './orgs.controller';
import { OrgsRepository } from './orgs.repository';
import { OrgsService } from './orgs.service';

/** Organizations: the platform's internal API (HTTP); the platform.org.v1 consumer is in the pipeline. */
@Module({
  controllers: [OrgsController],
  providers: [OrgsRepository, OrgsService],
  exports: [OrgsService],
})
export class OrgsModule {}
