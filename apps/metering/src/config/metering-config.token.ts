export const METERING_CONFIG = Symbol('METERING_CONFIG');
