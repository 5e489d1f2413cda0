/**
 * The action catalog (docs/ARCHITECTURE.md §1): every action the platform knows, whether an API key may ever
 * perform it, and which balance it draws on. The permission matrix in auth reads this; nothing
 * else spells an action name.
 */
export type BalanceKind = 'sandbox' | 'agent';

export interface ActionSpec {
  /** Resource actions are open to API keys; administrative ones need a dashboard user. */
  readonly audience: 'resource' | 'administrative';
  /** The balance this action reserves or debits, if any (metered actions need an admission). */
  readonly meters?: BalanceKind;
  /** Dashboard role needed for an administrative action. */
  readonly minRole?: 'owner' | 'admin' | 'member';
  /**
   * The action moves a sandbox's hold, which metering keys by the sandbox id its runtime reports
   * carry: it must name the sandbox (`resource: {type: "sandbox", id}`), or auth answers 400.
   */
  readonly namesSandbox?: true;
}

export const ACTIONS = {
  'sandbox.create': { audience: 'resource', meters: 'sandbox', namesSandbox: true },
  'sandbox.list': { audience: 'resource' },
  'sandbox.get': { audience: 'resource' },
  'sandbox.action.execute': { audience: 'resource' },
  'sandbox.preview': { audience: 'resource' },
  'sandbox.file.copy': { audience: 'resource' },
  'sandbox.extend': { audience: 'resource', meters: 'sandbox', namesSandbox: true },
  'sandbox.delete': { audience: 'resource', namesSandbox: true },
  'project.create': { audience: 'resource' },
  'project.list': { audience: 'resource' },
  'project.delete': { audience: 'resource' },
  'mcp_server.create': { audience: 'resource' },
  'mcp_server.list': { audience: 'resource' },
  'mcp_server.associate': { audience: 'resource' },
  'mcp_server.delete': { audience: 'resource' },
  'org.packages.read': { audience: 'resource' },
  'org.usage.read': { audience: 'resource' },
  'agent.run': { audience: 'resource', meters: 'agent' },
  'org.settings.update': { audience: 'administrative', minRole: 'admin' },
  'org.members.manage': { audience: 'administrative', minRole: 'admin' },
  'org.invitations.manage': { audience: 'administrative', minRole: 'admin' },
  'billing.purchase': { audience: 'administrative', minRole: 'owner' },
  'billing.read': { audience: 'administrative', minRole: 'owner' },
  'api_key.create': { audience: 'administrative', minRole: 'admin' },
  // Owners and admins manage the org's keys; a member lists and revokes only their own (ApiKeysService).
  'api_key.list': { audience: 'administrative', minRole: 'admin' },
  'api_key.delete': { audience: 'administrative', minRole: 'admin' },
} as const satisfies Record<string, ActionSpec>;

export type Action = keyof typeof ACTIONS;

export const ALL_ACTIONS = Object.keys(ACTIONS) as Action[];

export const isAction = (value: unknown): value is Action =>
  typeof value === 'string' && Object.prototype.hasOwnProperty.call(ACTIONS, value);

export const actionSpec = (action: Action): ActionSpec => ACTIONS[action];

export const isMetered = (action: Action): boolean => actionSpec(action).meters !== undefined;

/** Whether `action` must name its sandbox (`resource: {type: "sandbox", id}`): see `ActionSpec.namesSandbox`. */
export const namesSandbox = (action: string): boolean => isAction(action) && actionSpec(action).namesSandbox === true;
