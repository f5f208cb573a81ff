import type { BreakerChange } from "../domain/breaker.js";
import type { RegistryChangeEvent, StatusChange } from "../domain/service.js";
import { normalizeServiceType } from "../domain/service.js";
import type { Events } from "../events.js";
import { limitText } from "./service-where.js";

/** Live streams for subscriptions, narrowed to what the subscriber asked for. */
export function createWatch(events: Events) {
  return {
    statusChanges({
      serviceId,
      type,
    }: {
      serviceId?: string | null;
      type?: string | null;
    }): AsyncIterable<StatusChange> {
      limitText(serviceId, "serviceId");
      limitText(type, "type");
      const wantedType = type == null ? null : normalizeServiceType(type);
      return events.subscribe(
        "service.statusChanged",
        (event) =>
          (serviceId == null || event.service.id === serviceId) &&
          (wantedType === null || event.service.type === wantedType),
      );
    },

    breakerChanges({ serviceId }: { serviceId?: string | null }): AsyncIterable<BreakerChange> {
      limitText(serviceId, "serviceId");
      return events.subscribe(
        "breaker.changed",
        (event) => serviceId == null || event.serviceId === serviceId,
      );
    },

    registryChanges({ type }: { type?: string | null }): AsyncIterable<RegistryChangeEvent> {
      limitText(type, "type");
      const wantedType = type == null ? null : normalizeServiceType(type);
      return events.subscribe(
        "registry.changed",
        (event) => wantedType === null || event.service.type === wantedType,
      );
    },
  };
}
