// Types and typed documents for every GraphQL operation the portal sends, generated from the server's
// SDL (../schema.graphql, kept equal to the served schema by a server test). Codegen validates each
// document against the schema, and `tsc` then checks every use of its result and variables, so a
// schema change that breaks the portal fails `npm run build` (and so scripts/build-ui and CI).
import type { CodegenConfig } from "@graphql-codegen/cli";

const config: CodegenConfig = {
  schema: "../schema.graphql",
  documents: ["src/**/*.{ts,tsx}", "!src/gql/**"],
  ignoreNoDocuments: false,
  generates: {
    "src/gql/": {
      preset: "client",
      presetConfig: { fragmentMasking: false },
      config: {
        // Documents are plain strings (`TypedDocumentString`): the portal posts them with fetch and
        // needs no GraphQL client library or parser at run time.
        documentMode: "string",
        enumsAsTypes: true,
        useTypeImports: true,
        skipTypename: true,
        strictScalars: true,
        scalars: { DateTime: "string", JSON: "unknown" },
      },
    },
  },
};

export default config;
