import type { FileInfo, FileIO } from './fileio.js';

/**
 * A FileIO whose real implementation is created on the first call (see backends.ts): creating it
 * means loading a cloud SDK, so a process that never touches that storage never loads it. Every
 * method is asynchronous in the real back ends too, so results and errors are the same.
 */
export class LazyFileIO implements FileIO {
  private target: FileIO | undefined;
  private loading: Promise<FileIO> | undefined;
  private readonly onLoad: ((io: FileIO) => void)[] = [];

  constructor(private readonly create: () => Promise<FileIO>) {}

  /** The real FileIO, once a call has created it. */
  get loaded(): FileIO | undefined {
    return this.target;
  }

  /**
   * Runs `fn` on the real FileIO now if it exists, or when a creation in flight finishes (so a
   * cache clear during the first call still releases the client it makes). Never creates it.
   */
  whenLoaded(fn: (io: FileIO) => void): void {
    if (this.target) fn(this.target);
    else if (this.loading) this.onLoad.push(fn);
  }

  private io(): Promise<FileIO> {
    if (this.target) return Promise.resolve(this.target);
    this.loading ??= this.create().then(
      (io) => {
        this.target = io;
        for (const fn of this.onLoad.splice(0)) fn(io);
        return io;
      },
      (e: unknown) => {
        // A failed load (e.g. a broken install) is reported to this caller; the next call tries again.
        this.loading = undefined;
        this.onLoad.length = 0;
        throw e;
      },
    );
    return this.loading;
  }

  async read(location: string): Promise<Uint8Array> {
    return (await this.io()).read(location);
  }
  async readRange(location: string, offset: number, length: number): Promise<Uint8Array> {
    return (await this.io()).readRange(location, offset, length);
  }
  async stat(location: string): Promise<FileInfo | null> {
    return (await this.io()).stat(location);
  }
  async exists(location: string): Promise<boolean> {
    return (await this.io()).exists(location);
  }
  async write(location: string, data: Uint8Array): Promise<void> {
    return (await this.io()).write(location, data);
  }
  async writeIfAbsent(location: string, data: Uint8Array): Promise<void> {
    return (await this.io()).writeIfAbsent(location, data);
  }
  async delete(location: string): Promise<void> {
    return (await this.io()).delete(location);
  }
  async list(prefix: string): Promise<FileInfo[]> {
    return (await this.io()).list(prefix);
  }
  async localPath(location: string): Promise<string> {
    return (await this.io()).localPath(location);
  }
  async putLocalFile(localPath: string, location: string): Promise<void> {
    return (await this.io()).putLocalFile(localPath, location);
  }
}
