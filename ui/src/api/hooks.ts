// React hooks over `sessions.request`: a query that loads with the component and can reload, and a
// mutation that keeps its pending state and last error for the form that runs it.

import { useCallback, useEffect, useRef, useState, useSyncExternalStore } from "react";
import { ApiError } from "./errors";
import type { Variables } from "./graphql";
import { sessions, type Session } from "./session";

export function useSession(): Session | null {
  return useSyncExternalStore(sessions.subscribe, () => sessions.current());
}

/** The signed-in session; only for components rendered behind the sign-in gate. */
export function useSignedIn(): Session {
  const session = useSession();
  if (!session) throw new Error("invariant: rendered only while signed in");
  return session;
}

export interface QueryState<T> {
  data?: T;
  error?: ApiError;
  loading: boolean;
  reload: () => void;
  /** Replaces the data locally (after a mutation returned the new state). */
  setData: (update: (data: T | undefined) => T | undefined) => void;
}

export function useQuery<T>(query: string, variables: Variables = {}, skip = false): QueryState<T> {
  const [state, setState] = useState<{ data?: T; error?: ApiError; loading: boolean }>({ loading: !skip });
  const [generation, setGeneration] = useState(0);
  const key = JSON.stringify(variables);

  useEffect(() => {
    if (skip) return;
    let current = true;
    setState((s) => ({ data: s.data, loading: true }));
    sessions
      .request<T>(query, JSON.parse(key))
      .then((data) => current && setState({ data, loading: false }))
      .catch((err) => current && setState({ error: ApiError.from(err), loading: false }));
    return () => {
      current = false;
    };
  }, [query, key, skip, generation]);

  const reload = useCallback(() => setGeneration((g) => g + 1), []);
  const setData = useCallback(
    (update: (data: T | undefined) => T | undefined) => setState((s) => ({ ...s, data: update(s.data) })),
    [],
  );
  return { ...state, reload, setData };
}

export interface MutationState<T> {
  /** Runs the mutation; resolves with its data, or `undefined` when it failed (see `error`). */
  run: (variables?: Variables) => Promise<T | undefined>;
  pending: boolean;
  error?: ApiError;
  reset: () => void;
}

export function useMutation<T>(mutation: string): MutationState<T> {
  const [state, setState] = useState<{ pending: boolean; error?: ApiError }>({ pending: false });
  const mounted = useRef(true);
  useEffect(() => {
    mounted.current = true;
    return () => {
      mounted.current = false;
    };
  }, []);

  const run = useCallback(
    async (variables: Variables = {}) => {
      setState({ pending: true });
      try {
        const data = await sessions.request<T>(mutation, variables);
        if (mounted.current) setState({ pending: false });
        return data;
      } catch (err) {
        if (mounted.current) setState({ pending: false, error: ApiError.from(err) });
        return undefined;
      }
    },
    [mutation],
  );
  const reset = useCallback(() => setState({ pending: false }), []);
  return { run, ...state, reset };
}
