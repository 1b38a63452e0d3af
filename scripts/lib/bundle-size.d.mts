export declare const BUNDLE_BUDGET_GZIP_KIB: number;
export declare function measureBundle(distDir: string): { files: { file: string; raw: number; gzip: number }[]; raw: number; gzip: number };
