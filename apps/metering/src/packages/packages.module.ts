import { Module } from '@nestjs/common';
import { LedgerModule } from '../ledger/ledger.module';
import { PackagesController } from './packages.controller';
import { PackagesRepository } from './packages.repository';
import { PackagesService } from './packages.service';

/** Prepaid packages: granted and listed over HTTP, each grant posted to the ledger. */
@Module({
  imports: [LedgerModule],
  controllers: [PackagesController],
  providers: [PackagesRepository, PackagesService],
  exports: [PackagesService],
})
export class PackagesModule {}
