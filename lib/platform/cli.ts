import { ConfigError } from './config.ts';
import { DependencyError } from './errors.ts';

/** Runs a command-line entry point: known failures print their one line, others their message. */
export function runCli(name: string, main: () => Promise<void>): void {
  main().catch((error: unknown) => {
    const known = error instanceof ConfigError || error instanceof DependencyError;
    console.error(
      known ? error.message : `${name}: ${error instanceof Error ? error.message : String(error)}`,
    );
    process.exit(1);
  });
}
