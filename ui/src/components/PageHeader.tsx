import { useEffect, type ReactNode } from "react";

/** Sets the browser tab's title: "Calls · voxedge". */
export function useDocumentTitle(title: string | undefined) {
  useEffect(() => {
    document.title = title ? `${title} · voxedge` : "voxedge";
  }, [title]);
}

/**
 * A page's heading and actions. It also names the browser tab: `docTitle`, or the title when it is
 * text. Every screen renders one, also while loading, so the tab never keeps the previous page's name.
 */
export function PageHeader({
  title,
  docTitle,
  children,
}: {
  title: ReactNode;
  docTitle?: string;
  children?: ReactNode;
}) {
  useDocumentTitle(docTitle ?? (typeof title === "string" ? title : undefined));
  return (
    <header className="page-header">
      <h1>{title}</h1>
      {children && <div className="page-actions">{children}</div>}
    </header>
  );
}
