// esbuild bundles the stylesheet main.tsx imports into its own hashed asset.
declare module "*.css";
