export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export interface Rules {
  read?: string;
  create?: string;
  update?: string;
  delete?: string;
}
export interface Index {
  fields: [string, 'asc' | 'desc'][];
  unique?: boolean;
}
export interface Collection {
  name: string;
  rules?: Rules | null;
  schema?: Json;
  indexes?: Index[];
  created_at?: string;
  updated_at?: string;
}
export interface Doc {
  id: string;
  collection: string;
  version: number;
  created_at: string;
  updated_at: string;
  data: Record<string, Json>;
}
export interface User {
  id: string;
  email: string | null;
  email_verified: boolean;
  anonymous: boolean;
  disabled?: boolean;
  created_at: string;
  updated_at: string;
  data: Record<string, Json>;
  claims: Record<string, Json>;
  mfa_enabled: boolean;
}
export const OPERATIONS = ['read', 'create', 'update', 'delete'] as const;
export type Operation = (typeof OPERATIONS)[number];
