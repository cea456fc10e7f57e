// Native libraries through koffi: the first of several names that loads (Debian's soname first, then others).
import type { LibraryHandle } from 'koffi';

/** The first library among `names` that koffi can load, with the name it loaded under; null when none does. */
export function loadFirstLibrary(koffi: typeof import('koffi'), names: string[]): { lib: LibraryHandle; path: string } | null {
  for (const path of names) {
    try {
      return { lib: koffi.load(path), path };
    } catch {
      // not this name: try the next
    }
  }
  return null;
}
