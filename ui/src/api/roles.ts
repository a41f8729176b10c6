// The role matrix of the README (`Role::allows` on the server), so the portal hides or disables what
// the signed-in role cannot do. The server still enforces it; this only spares people dead ends.

import type { Role } from "../gql/graphql";

export type { Role };

export const ROLES: Role[] = ["OWNER", "ADMIN", "DEVELOPER", "VIEWER", "BILLING"];

export type Permission =
  | "ReadTenant"
  | "ManageTenant"
  | "ManageApiKeys"
  | "ReadMembers"
  | "ManageMembers"
  | "TransferOwnership"
  | "ReadAuditLog"
  | "CreateSessionTokens"
  | "ReadAgents"
  | "EditAgents"
  | "ReadCalls"
  | "ManageCalls"
  | "ManageWebhooks"
  | "ReadTelephony"
  | "ManageTelephony"
  | "ReadBilling"
  | "ManageBilling";

const MATRIX: Record<Permission, Role[]> = {
  ReadTenant: ["OWNER", "ADMIN", "DEVELOPER", "VIEWER", "BILLING"],
  ManageTenant: ["OWNER", "ADMIN"],
  ManageApiKeys: ["OWNER", "ADMIN", "DEVELOPER"],
  ReadMembers: ["OWNER", "ADMIN", "DEVELOPER", "VIEWER", "BILLING"],
  ManageMembers: ["OWNER", "ADMIN"],
  TransferOwnership: ["OWNER"],
  ReadAuditLog: ["OWNER", "ADMIN"],
  CreateSessionTokens: ["OWNER", "ADMIN", "DEVELOPER"],
  ReadAgents: ["OWNER", "ADMIN", "DEVELOPER", "VIEWER"],
  EditAgents: ["OWNER", "ADMIN", "DEVELOPER"],
  ReadCalls: ["OWNER", "ADMIN", "DEVELOPER", "VIEWER"],
  ManageCalls: ["OWNER", "ADMIN", "DEVELOPER"],
  ManageWebhooks: ["OWNER", "ADMIN", "DEVELOPER"],
  ReadTelephony: ["OWNER", "ADMIN", "DEVELOPER", "VIEWER"],
  ManageTelephony: ["OWNER", "ADMIN", "DEVELOPER"],
  ReadBilling: ["OWNER", "ADMIN", "BILLING"],
  ManageBilling: ["OWNER", "BILLING"],
};

export function can(role: Role | undefined, permission: Permission): boolean {
  return role !== undefined && MATRIX[permission].includes(role);
}

/** Roles `role` may give to a key or a member (`Role::can_grant`). */
export function grantableRoles(role: Role): Role[] {
  switch (role) {
    case "OWNER":
      return ROLES;
    case "ADMIN":
      return ROLES.filter((r) => r !== "OWNER");
    case "DEVELOPER":
      return ["DEVELOPER", "VIEWER"];
    case "VIEWER":
      return ["VIEWER"];
    case "BILLING":
      return ["BILLING"];
  }
}

export function roleLabel(role: Role): string {
  return role.charAt(0) + role.slice(1).toLowerCase();
}
