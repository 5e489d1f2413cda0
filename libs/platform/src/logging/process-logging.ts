import { Logger, LoggerService } from '@nestjs/common';
import pino from 'pino';
import { REDACTED_PATHS } from './logging';

type Level = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

let processLogger: pino.Logger | undefined;

/**
 * One JSON object per line from a process's first line (issue 16): until the app's own logger
 * (nestjs-pino, same fields) takes over, Nest's static Logger (what kafkajs and the libraries log
 * through), Node's warnings, an uncaught exception and a failed start are written by this pino
 * logger instead of Nest's coloured multi-line console. Call it first thing in main.ts.
 */
export function installProcessLogging(service: string, level = process.env.LOG_LEVEL ?? 'info'): pino.Logger {
  if (processLogger) return processLogger;
  const logger = pino({ level, base: { service }, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } });
  processLogger = logger;
  Logger.overrideLogger(new JsonLogger(logger));
  // Node prints warnings (deprecations, TimeoutNegativeWarning...) as text through its own listener.
  process.removeAllListeners('warning');
  process.on('warning', (warning) => logger.warn({ err: warning, warning: warning.name }, warning.message));
  process.on('uncaughtException', (error, origin) => {
    logger.fatal({ err: error, origin }, 'uncaught exception; exiting');
    process.exit(1);
  });
  return logger;
}

/** The process logger (installProcessLogging's), for a failure before or around the app's start. */
export function logFatal(message: string, error?: unknown): void {
  const fields = error === undefined ? {} : { err: error };
  if (processLogger) processLogger.fatal(fields, message);
  else process.stderr.write(`${JSON.stringify({ level: 60, time: Date.now(), msg: message, ...fields })}\n`);
}

/** Nest's LoggerService over pino, with nestjs-pino's conventions: an object first argument is merged, the last extra argument is the context. */
class JsonLogger implements LoggerService {
  constructor(private readonly logger: pino.Logger) {}

  log(message: unknown, ...rest: unknown[]) {
    this.write('info', message, rest);
  }
  error(message: unknown, ...rest: unknown[]) {
    this.write('error', message, rest);
  }
  warn(message: unknown, ...rest: unknown[]) {
    this.write('warn', message, rest);
  }
  debug(message: unknown, ...rest: unknown[]) {
    this.write('debug', message, rest);
  }
  verbose(message: unknown, ...rest: unknown[]) {
    this.write('trace', message, rest);
  }
  fatal(message: unknown, ...rest: unknown[]) {
    this.write('fatal', message, rest);
  }

  private write(level: Level, message: unknown, rest: unknown[]) {
    const context = rest.length > 0 && typeof rest.at(-1) === 'string' ? (rest.at(-1) as string) : undefined;
    const extra = context === undefined ? rest : rest.slice(0, -1);
    const fields: Record<string, unknown> = context ? { context } : {};
    if (message instanceof Error) {
      this.logger[level]({ ...fields, err: message }, message.message);
    } else if (typeof message === 'object' && message !== null) {
      const text = typeof extra[0] === 'string' ? extra[0] : undefined;
      this.logger[level]({ ...fields, ...(message as object) }, text);
    } else {
      // Nest's own error calls pass a stack as the second argument.
      if (typeof extra[0] === 'string') fields.stack = extra[0];
      this.logger[level](fields, String(message));
    }
  }
}
