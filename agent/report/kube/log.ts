// The slice of pino's Logger the Kubernetes reporter uses; a pino Logger fits.
export interface KubeLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}
