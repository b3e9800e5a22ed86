/** The dashboard's entry point (bundled by src/kernel/api/ui-bundle.ts, served at / by the kernel). */
import { render } from "preact";
import { App } from "./app.tsx";
import "./styles.css";

render(<App />, document.getElementById("app")!);
