import { BadRequestException, Controller, Get, Inject, Logger, Query, type OnApplicationBootstrap } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { JwtService } from '@nestjs/jwt';
import type { AppEnv } from './env.schema.js';

const ID = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * Demo only (registered when DEMO_MODE=true, never by the module itself): mints short-lived
 * HS256 tokens so a newcomer can connect with wscat or a browser without an identity provider.
 * The env schema refuses DEMO_MODE with NODE_ENV=production, and start-up logs a warning.
 * GET /demo/token?user=alice&name=Alice&tenant=demo → {"token":"…","expiresIn":3600}
 */
@Controller('demo')
export class DemoTokenController implements OnApplicationBootstrap {
  private readonly logger = new Logger('DemoMode');
  private readonly jwt: JwtService;
  private readonly tenantClaim: string;

  constructor(@Inject(ConfigService) config: ConfigService<AppEnv, true>) {
    this.jwt = new JwtService({ secret: config.get('JWT_SECRET', { infer: true }) });
    this.tenantClaim = config.get('JWT_TENANT_CLAIM', { infer: true });
  }

  /** Once at start-up, at warn level: an operator who left DEMO_MODE on sees it in the log. */
  onApplicationBootstrap(): void {
    this.logger.warn(
      'DEMO_MODE is on: GET /demo/token mints a token for any tenant and user with JWT_SECRET, and POST /demo/drop is unauthenticated. Never in production.',
    );
  }

  @Get('token')
  token(@Query('user') user?: string, @Query('name') name?: string, @Query('tenant') tenant = 'demo'): { token: string; expiresIn: number } {
    if (!user || !ID.test(user) || !ID.test(tenant)) throw new BadRequestException('user and tenant must be 1-64 characters of [A-Za-z0-9._-]');
    const expiresIn = 3600;
    const payload: Record<string, unknown> = { sub: user, [this.tenantClaim]: tenant };
    if (name) payload.name = name.slice(0, 64);
    return { token: this.jwt.sign(payload, { expiresIn, algorithm: 'HS256' }), expiresIn };
  }
}
