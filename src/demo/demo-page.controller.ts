import { BadRequestException, Controller, Get, Header, HttpCode, Inject, NotFoundException, Param, Post, Query, Res } from '@nestjs/common';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConnectionService } from '../domain/connections/connection.service.js';

const ID = /^[A-Za-z0-9._-]{1,64}$/;
/** The repository root: this file lives in src/demo/ (tests) or dist/demo/ (built), two levels down either way. */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PAGE = join(ROOT, 'client', 'demo', 'index.html');
/** `npm run build` (build:client) compiles the SDK and the page's script here. */
const SDK_DIR = join(ROOT, 'dist', 'sdk');

/** The few bits of Express's response this controller sets. */
interface HeaderSink {
  setHeader(name: string, value: string): void;
}

/**
 * Demo only (registered when DEMO_MODE=true, never by the module itself): the live canvas page.
 * - GET /demo: the page (client/demo/index.html);
 * - GET /demo/sdk/…: the client SDK and the page script as native ES modules, straight from
 *   `tsc`'s output (dist/sdk: no bundler); only files that exist there at start-up are served;
 * - POST /demo/drop?user=alice[&tenant=demo]: destroys that user's sockets on the server side,
 *   without a close frame and without ending the session (a network drop, as the heartbeat would
 *   see it), so the page's "reconnecting" → "resumed" can be watched. Demo tokens already let
 *   anyone act as any user, so this gives nothing away that DEMO_MODE does not.
 */
@Controller('demo')
export class DemoPageController {
  private readonly files: ReadonlyMap<string, string>;

  constructor(@Inject(ConnectionService) private readonly connections: ConnectionService) {
    this.files = listJs(SDK_DIR);
  }

  @Get()
  @Header('Content-Type', 'text/html; charset=utf-8')
  @Header('Cache-Control', 'no-cache')
  page(): string {
    return readFileSync(PAGE, 'utf8');
  }

  @Get('sdk/*path')
  sdk(@Param('path') path: string | string[], @Res({ passthrough: true }) res: HeaderSink): string {
    const name = Array.isArray(path) ? path.join('/') : path;
    const file = this.files.get(name);
    if (!file) {
      throw new NotFoundException(this.files.size === 0 ? 'the client SDK is not built: run `npm run build`' : 'no such file');
    }
    res.setHeader('Content-Type', 'text/javascript; charset=utf-8');
    res.setHeader('Cache-Control', 'no-cache');
    return readFileSync(file, 'utf8');
  }

  @Post('drop')
  @HttpCode(200)
  drop(@Query('user') user?: string, @Query('tenant') tenant = 'demo'): { dropped: number } {
    if (!user || !ID.test(user) || !ID.test(tenant)) throw new BadRequestException('user and tenant must be 1-64 characters of [A-Za-z0-9._-]');
    const victims = this.connections.byUserId(tenant, user);
    // Resumable, like a dropped network: the reconnect token resumes the session.
    for (const connection of victims) this.connections.terminate(connection, { cause: 'client', resumable: true });
    return { dropped: victims.length };
  }
}

/** Every .js file under `dir`, keyed by its path relative to it with `/` separators. */
function listJs(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (d: string): void => {
    let names: string[];
    try {
      names = readdirSync(d);
    } catch {
      return; // not built yet
    }
    for (const name of names) {
      const full = join(d, name);
      if (statSync(full).isDirectory()) walk(full);
      else if (name.endsWith('.js')) files.set(relative(dir, full).split(sep).join('/'), full);
    }
  };
  walk(dir);
  return files;
}
