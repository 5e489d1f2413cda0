import { Module } from '@nestjs/common';
import { LedgerModule } from '../ledger/ledger.module';
import { OverdraftController } from './overdraft.controller';
import { OverdraftService } from './overdraft.service';
import { PackagesController } from './packages.controller';
import { PackagesRepository } from './packages.repository';
import { PackagesService } from './packages.service';

/** Prepaid packages: granted and listed over HTTP, each grant posted to the ledger; the agent overdraft limit. */
@Module({
  imports: [LedgerModule],
  controllers: [PackagesController, OverdraftController],
  providers: [PackagesRepository, PackagesService, OverdraftService],
  exports: [PackagesService],
})
export class PackagesModule {}
