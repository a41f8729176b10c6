import { useEffect, useRef, useState } from "react";
import { NavLink, Outlet, useLocation, useNavigate } from "react-router";
import { useSignedIn } from "../api/hooks";
import { roleLabel } from "../api/roles";
import { sessions } from "../api/session";
import { navFor } from "./nav";
import { TenantSwitcher } from "./TenantSwitcher";
import { VerifyEmailBanner } from "./VerifyEmailBanner";

/**
 * The signed-in shell: a sidebar on wide screens; on narrow ones a top bar whose menu button opens the
 * same navigation over the page. A skip link leads past the navigation to the page's content.
 */
export function Layout() {
  const session = useSignedIn();
  const navigate = useNavigate();
  const { pathname } = useLocation();
  const [menuOpen, setMenuOpen] = useState(false);
  const main = useRef<HTMLElement>(null);
  const firstRender = useRef(true);

  // A new page: close the menu and, after a navigation (not the first load), move focus to the content
  // so keyboard and screen-reader users start there rather than at the top of the sidebar.
  useEffect(() => {
    setMenuOpen(false);
    if (firstRender.current) {
      firstRender.current = false;
      return;
    }
    main.current?.focus({ preventScroll: true });
    window.scrollTo(0, 0);
  }, [pathname]);

  useEffect(() => {
    if (!menuOpen) return;
    const close = (e: KeyboardEvent) => e.key === "Escape" && setMenuOpen(false);
    window.addEventListener("keydown", close);
    return () => window.removeEventListener("keydown", close);
  }, [menuOpen]);

  const signOut = async () => {
    await sessions.logout();
    navigate("/signin");
  };

  return (
    <div className={`shell${menuOpen ? " menu-open" : ""}`}>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <Brand />
        <button
          type="button"
          className="menu-button"
          aria-expanded={menuOpen}
          aria-controls="sidebar"
          onClick={() => setMenuOpen((open) => !open)}
        >
          <span aria-hidden="true" className="menu-icon" />
          {menuOpen ? "Close" : "Menu"}
        </button>
      </header>
      <aside className="sidebar" id="sidebar">
        <div className="sidebar-brand">
          <Brand />
        </div>
        <TenantSwitcher />
        <nav aria-label="Main">
          {navFor(session.role).map((group) => (
            <div className="nav-group" key={group.label}>
              {group.to ? (
                <NavLink to={group.to} end className="nav-group-label">
                  {group.label}
                </NavLink>
              ) : (
                <div className="nav-group-label">{group.label}</div>
              )}
              {group.items.map((item) => (
                <NavLink key={item.to} to={item.to}>
                  {item.label}
                </NavLink>
              ))}
            </div>
          ))}
        </nav>
        <div className="who">
          <div className="who-email" data-testid="signed-in-as">
            {session.user.email}
          </div>
          <div className="who-role">{roleLabel(session.role)}</div>
          <button type="button" className="link" onClick={signOut}>
            Sign out
          </button>
        </div>
      </aside>
      {menuOpen && <div className="scrim" aria-hidden="true" onClick={() => setMenuOpen(false)} />}
      <main className="content" id="main" tabIndex={-1} ref={main}>
        <VerifyEmailBanner />
        <Outlet />
      </main>
    </div>
  );
}

function Brand() {
  return (
    <div className="brand">
      <img src="/favicon.svg" alt="" width={28} height={28} />
      <span>voxedge</span>
    </div>
  );
}
