import { Controller, Get, Injectable, Module, Param } from '@nestjs/common';
import { OnEvent } from '@nestjs/event-emitter';
import { ConnectionManagerEvent, RoomJoinedEvent, RoomService, type PresenceMember } from 'canvas-connection-manager';

export interface CanvasJoin {
  userId: string;
  at: string;
}

/** The host's own listener of the module's domain events: the last joins of each canvas. */
@Injectable()
export class CanvasActivity {
  private static readonly KEPT_PER_CANVAS = 20; // bounded: a busy canvas cannot grow it
  private readonly joins = new Map<string, CanvasJoin[]>();

  // Called synchronously, inside the join that published the event: keep it quick (a throw is logged, the join goes on).
  @OnEvent(ConnectionManagerEvent.RoomJoined)
  onRoomJoined(event: RoomJoinedEvent): void {
    const key = `${event.tenantId}/${event.canvasId}`;
    const list = [...(this.joins.get(key) ?? []), { userId: event.userId, at: new Date().toISOString() }];
    this.joins.set(key, list.slice(-CanvasActivity.KEPT_PER_CANVAS));
  }

  recentJoins(tenantId: string, canvasId: string): CanvasJoin[] {
    return this.joins.get(`${tenantId}/${canvasId}`) ?? [];
  }
}

/** A host controller next to the module; ConnectionManagerModule is global, so RoomService is injectable anywhere. */
@Controller('tenants/:tenantId/canvases/:canvasId')
export class CanvasActivityController {
  constructor(
    private readonly activity: CanvasActivity,
    private readonly rooms: RoomService,
  ) {}

  // Guard this route like the rest of your API: it lists a tenant's users.
  @Get('activity')
  async activityOf(
    @Param('tenantId') tenantId: string,
    @Param('canvasId') canvasId: string,
  ): Promise<{ recentJoins: CanvasJoin[]; members: PresenceMember[] }> {
    return { recentJoins: this.activity.recentJoins(tenantId, canvasId), members: await this.rooms.members(tenantId, canvasId) };
  }
}

@Module({ providers: [CanvasActivity], controllers: [CanvasActivityController] })
export class CanvasActivityModule {}
