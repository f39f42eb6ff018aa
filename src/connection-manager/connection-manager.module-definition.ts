import { ConfigurableModuleBuilder, type ModuleMetadata, type Type } from '@nestjs/common';
import { CanvasAccessPolicy } from '../domain/ports/canvas-access-policy.port.js';
import { TenantQuotaPolicy } from '../domain/ports/tenant-quota-policy.port.js';
import type { ConnectionManagerOptions } from '../kernel/connection-manager.options.js';

/** Module-level extras: passed beside the options to forRoot/forRootAsync, not validated with them. */
export interface ConnectionManagerExtras {
  /** Replaces the default canvas access policy; resolved inside the module, with DI. */
  canvasAccessPolicy?: Type<CanvasAccessPolicy>;
  /** Modules whose exported providers the access policy injects (e.g. the host's canvas repository). */
  canvasAccessPolicyImports?: ModuleMetadata['imports'];
  /** Per-tenant connection cap and room capacity (plans); resolved inside the module, with DI. Default: none (module options for every tenant). */
  tenantQuotaPolicy?: Type<TenantQuotaPolicy>;
  /** Modules whose exported providers the tenant quota policy injects (e.g. the host's plan repository). */
  tenantQuotaPolicyImports?: ModuleMetadata['imports'];
}

export const {
  ConfigurableModuleClass: ConfigurableConnectionManagerModule,
  MODULE_OPTIONS_TOKEN: RAW_CONNECTION_MANAGER_OPTIONS,
  OPTIONS_TYPE: CONNECTION_MANAGER_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: CONNECTION_MANAGER_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<ConnectionManagerOptions>()
  .setClassMethodName('forRoot')
  .setExtras<ConnectionManagerExtras>({}, (definition, extras) => ({
    ...definition,
    imports: [...(definition.imports ?? []), ...(extras.canvasAccessPolicyImports ?? []), ...(extras.tenantQuotaPolicyImports ?? [])],
    // Global, so the Presence and Router modules (and the host) can inject its services
    // without importing it a second time.
    global: true,
    providers: [
      ...(definition.providers ?? []),
      ...(extras.canvasAccessPolicy ? [{ provide: CanvasAccessPolicy, useClass: extras.canvasAccessPolicy }] : []),
      ...(extras.tenantQuotaPolicy ? [{ provide: TenantQuotaPolicy, useClass: extras.tenantQuotaPolicy }] : []),
    ],
  }))
  .build();
