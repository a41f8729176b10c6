// What the navigation offers, grouped as people look for it. A screen whose permission the signed-in
// role lacks is not listed. Usage & billing sits next to the workspace it bills.

import { can, type Permission, type Role } from "../api/roles";

export interface NavItem {
  to: string;
  label: string;
  permission: Permission;
}

export interface NavGroup {
  label: string;
  /** An overview page of the group, if it has one. */
  to?: string;
  items: NavItem[];
}

export const NAV: NavGroup[] = [
  {
    label: "Build",
    items: [
      { to: "/agents", label: "Agents", permission: "ReadAgents" },
      { to: "/talk", label: "Talk to agent", permission: "CreateSessionTokens" },
    ],
  },
  {
    label: "Monitor",
    items: [
      { to: "/calls", label: "Calls", permission: "ReadCalls" },
      { to: "/audit", label: "Audit log", permission: "ReadAuditLog" },
    ],
  },
  {
    label: "Settings",
    to: "/settings",
    items: [
      { to: "/settings/workspace", label: "Workspace", permission: "ReadTenant" },
      { to: "/settings/billing", label: "Usage & billing", permission: "ReadBilling" },
      { to: "/settings/members", label: "Members", permission: "ReadMembers" },
      { to: "/settings/llm-keys", label: "LLM keys", permission: "ReadAgents" },
      { to: "/settings/telephony", label: "Phone numbers", permission: "ReadTelephony" },
      { to: "/settings/api-keys", label: "API keys", permission: "ManageApiKeys" },
      { to: "/settings/webhooks", label: "Webhooks", permission: "ManageWebhooks" },
    ],
  },
];

/** The groups with only what `role` may open; empty groups are left out. */
export function navFor(role: Role): NavGroup[] {
  return NAV.map((g) => ({ ...g, items: g.items.filter((i) => can(role, i.permission)) })).filter(
    (g) => g.items.length > 0,
  );
}

/** The first screen the role may see. */
export function homePath(role: Role): string {
  return navFor(role)[0]?.items[0]?.to ?? "/settings/workspace";
}
