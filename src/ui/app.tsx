/** The shell: navigation for the signed-in role, theme toggle, sign-out, and the current page. */
import { useEffect } from "preact/hooks";
import { Link } from "./components.tsx";
import { can } from "./roles.ts";
import { NAV } from "./routes.ts";
import { route } from "./router.ts";
import { expireIfDue, session, signOut } from "./session.ts";
import { theme, toggleTheme } from "./theme.ts";
import { SignIn } from "./pages/sign-in.tsx";
import { Overview } from "./pages/overview.tsx";
import { Jobs } from "./pages/jobs.tsx";
import { JobPage } from "./pages/job.tsx";
import { NewJob } from "./pages/new-job.tsx";
import { Workers } from "./pages/workers.tsx";
import { Streams } from "./pages/streams.tsx";
import { Profiles } from "./pages/profiles.tsx";
import { Plugins } from "./pages/plugins.tsx";
import { Webhooks } from "./pages/webhooks.tsx";
import { ApiKeys } from "./pages/api-keys.tsx";
import { Users } from "./pages/users.tsx";
import { Audit } from "./pages/audit.tsx";

function Current() {
  const r = route.value;
  switch (r.page) {
    case "overview": return <Overview />;
    case "jobs": return <Jobs query={r.query} />;
    case "job": return <JobPage id={r.id!} />;
    case "new-job": return <NewJob />;
    case "workers": return <Workers />;
    case "streams": return <Streams />;
    case "profiles": return <Profiles />;
    case "plugins": return <Plugins />;
    case "webhooks": return <Webhooks />;
    case "api-keys": return <ApiKeys />;
    case "users": return <Users />;
    case "audit": return <Audit query={r.query} />;
    default: return <section class="page"><h1>Not found</h1><p>No page here. <Link href="/">Go to the overview</Link>.</p></section>;
  }
}

export function App() {
  const s = session.value;
  useEffect(() => {
    const timer = setInterval(() => expireIfDue(), 10_000);
    return () => clearInterval(timer);
  }, []);
  if (!s) return <SignIn />;
  const here = route.value.page;
  return (
    <div class="shell">
      <a class="skip" href="#main">Skip to content</a>
      <header class="top">
        <Link href="/" class="brand">WebEncode</Link>
        <nav aria-label="main" class="nav">
          {NAV.filter((n) => can(s.role, n.need)).map((n) => (
            <Link href={n.path} class={n.page === here || (n.page === "jobs" && here === "job") ? "active" : ""} data-test={`nav-${n.page}`}>{n.label}</Link>
          ))}
        </nav>
        <div class="who">
          <span data-test="who">{s.name} · {s.role}</span>
          <button type="button" class="ghost" onClick={toggleTheme} aria-label="toggle light or dark theme">{theme.value === "dark" ? "Light" : "Dark"}</button>
          <button type="button" class="ghost" onClick={signOut} data-test="sign-out">Sign out</button>
        </div>
      </header>
      <main id="main"><Current /></main>
    </div>
  );
}
