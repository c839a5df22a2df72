/** A bounded ring of CPU and memory samples per container, so the page starts with history. */
export interface MetricSample {
  cpu: number | null
  mem: number | null
}

export const HISTORY_SAMPLES = 120
export const HISTORY_INTERVAL_MS = 5000
const MAX_CONTAINERS = 1000

export class MetricHistory {
  private readonly rings = new Map<string, MetricSample[]>()

  /** Adds one sample per running container; forgets containers that are gone. */
  record(samples: Map<string, MetricSample>): void {
    for (const id of this.rings.keys()) if (!samples.has(id)) this.rings.delete(id)
    for (const [id, sample] of samples) {
      let ring = this.rings.get(id)
      if (!ring) {
        if (this.rings.size >= MAX_CONTAINERS) continue
        this.rings.set(id, (ring = []))
      }
      ring.push(sample)
      if (ring.length > HISTORY_SAMPLES) ring.splice(0, ring.length - HISTORY_SAMPLES)
    }
  }

  of(id: string): {cpu: (number | null)[]; mem: (number | null)[]} {
    const ring = this.rings.get(id) ?? []
    return {cpu: ring.map((s) => s.cpu), mem: ring.map((s) => s.mem)}
  }
}
