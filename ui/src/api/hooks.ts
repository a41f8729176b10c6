// React hooks over `sessions.request`: a query that loads with the component and can reload, and a
// mutation that keeps its pending state and last error for the form that runs it. Both take the typed
// documents generated from schema.graphql, so data and variables are checked by the compiler.

import { useCallback, useEffect, useRef, useState, useSyncExternalStore } from "react";
import { ApiError } from "./errors";
import type { TypedDocumentString } from "./graphql";
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

/** Variables, then whether to skip; variables may be left out when the operation needs none. */
type QueryArgs<V> =
  Record<string, never> extends V ? [variables?: V, options?: { skip?: boolean }] : [variables: V, options?: { skip?: boolean }];

export function useQuery<R, V>(document: TypedDocumentString<R, V>, ...[variables, options]: QueryArgs<V>): QueryState<R> {
  const skip = options?.skip ?? false;
  const [state, setState] = useState<{ data?: R; error?: ApiError; loading: boolean }>({ loading: !skip });
  const [generation, setGeneration] = useState(0);
  const key = JSON.stringify(variables ?? {});

  useEffect(() => {
    if (skip) return;
    let current = true;
    setState((s) => ({ data: s.data, loading: true }));
    sessions
      .request(document, JSON.parse(key) as V)
      .then((data) => current && setState({ data, loading: false }))
      .catch((err) => current && setState((s) => ({ data: s.data, error: ApiError.from(err), loading: false })));
    return () => {
      current = false;
    };
  }, [document, key, skip, generation]);

  const reload = useCallback(() => setGeneration((g) => g + 1), []);
  const setData = useCallback(
    (update: (data: R | undefined) => R | undefined) => setState((s) => ({ ...s, data: update(s.data) })),
    [],
  );
  return { ...state, reload, setData };
}

export interface MutationState<R, V> {
  /** Runs the mutation; resolves with its data, or `undefined` when it failed (see `error`). */
  run: (...variables: Record<string, never> extends V ? [variables?: V] : [variables: V]) => Promise<R | undefined>;
  pending: boolean;
  error?: ApiError;
  reset: () => void;
}

export function useMutation<R, V>(document: TypedDocumentString<R, V>): MutationState<R, V> {
  const [state, setState] = useState<{ pending: boolean; error?: ApiError }>({ pending: false });
  const mounted = useRef(true);
  useEffect(() => {
    mounted.current = true;
    return () => {
      mounted.current = false;
    };
  }, []);

  const run = useCallback(
    async (variables?: V) => {
      setState({ pending: true });
      try {
        const data = await sessions.request(document, variables);
        if (mounted.current) setState({ pending: false });
        return data;
      } catch (err) {
        if (mounted.current) setState({ pending: false, error: ApiError.from(err) });
        return undefined;
      }
    },
    [document],
  );
  const reset = useCallback(() => setState({ pending: false }), []);
  return { run: run as MutationState<R, V>["run"], ...state, reset };
}
