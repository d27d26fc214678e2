/**
 * CPU time of the processes in a run, from `/proc` (Linux): what a storm costs each of them,
 * so that a result shows where the 2 cores went (this proxy, its traefik, the store, the bench's
 * own load generator and backend) next to the time it took.
 *
 * @module
 */

/** Clock ticks per second of `/proc/<pid>/stat` (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;

/**
 * User plus system CPU of one process so far, ms; NaN when it cannot be read (no `/proc`, the
 * process is gone).
 *
 * @example
 * ```ts
 * import { cpuMs } from "./cpu.ts";
 * cpuMs(Deno.pid); // e.g. 830
 * ```
 */
export function cpuMs(pid: number): number {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // The fields after the command name (which may hold spaces), from field 3 (state) on.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) * 1000 / TICKS_PER_SECOND;
  } catch {
    return NaN;
  }
}

/**
 * Every descendant of a process (children, their children...), by pid; none when `/proc` cannot
 * be read.
 *
 * @example
 * ```ts
 * import { descendants } from "./cpu.ts";
 * descendants(Deno.pid); // [] for a process that started none
 * ```
 */
export function descendants(pid: number): number[] {
  const found: number[] = [];
  const visit = (parent: number) => {
    let tasks: Deno.DirEntry[] = [];
    try {
      tasks = [...Deno.readDirSync(`/proc/${parent}/task`)];
    } catch {
      return;
    }
    for (const task of tasks) {
      let children = "";
      try {
        children = Deno.readTextFileSync(`/proc/${parent}/task/${task.name}/children`);
      } catch {
        continue;
      }
      for (const child of children.trim().split(/\s+/).filter(Boolean).map(Number)) {
        found.push(child);
        visit(child);
      }
    }
  };
  visit(pid);
  return found;
}

/** Processes by role, for `cpuSince`. */
export type CpuRoles = Record<string, number[]>;

/**
 * The CPU used by each role's processes from now until the returned function is called, ms.
 *
 * @example
 * ```ts
 * import { cpuSince } from "./cpu.ts";
 * const done = cpuSince({ bench: [Deno.pid] });
 * // ... the work ...
 * done(); // { bench: 120 }
 * ```
 */
export function cpuSince(roles: CpuRoles): () => Record<string, number> {
  const total = (pids: number[]) => pids.reduce((sum, pid) => sum + cpuMs(pid), 0);
  const before = Object.fromEntries(
    Object.entries(roles).map(([role, pids]) => [role, total(pids)]),
  );
  return () =>
    Object.fromEntries(
      Object.entries(roles).map(([role, pids]) => [role, total(pids) - before[role]]),
    );
}
