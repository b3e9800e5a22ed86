// `import "./styles.css"` in main.tsx: bun build bundles it into its own .css file.
declare module "*.css";
