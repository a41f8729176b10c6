import { graphql } from "../../gql";
import type { BillingPageQuery, InvoiceLineFieldsFragment, PlanFieldsFragment } from "../../gql/graphql";

export type Plan = PlanFieldsFragment;
export type Line = InvoiceLineFieldsFragment;
export type Invoice = BillingPageQuery["invoices"]["nodes"][number];
export type UsagePoint = BillingPageQuery["usageSeries"][number];

graphql(`
  fragment PlanFields on Plan {
    id name version selfServe
    baseFee { amount currency }
    included { metric unit quantity }
    unitPrices { metric unit price { amount currency } }
    concurrentCallLimit monthlyMinuteLimit
  }
`);
graphql(`
  fragment InvoiceLineFields on InvoiceLine {
    kind metric description plan quantity used included unit
    unitPrice { amount currency } amount { amount currency }
  }
`);

export const BILLING_PAGE = graphql(`
  query BillingPage($since: DateTime!) {
    billing {
      status periodStart periodEnd minutesUsed callsInProgress pastDueSince paymentsEnabled
      plan { ...PlanFields }
      costToDate { amount currency }
      forecast { amount currency }
      linesToDate { ...InvoiceLineFields }
    }
    plans { ...PlanFields }
    usageSeries(since: $since) { day metric billedQuantity unit cost { amount currency } }
    invoices(first: 24) {
      nodes {
        id number status periodStart periodEnd
        total { amount currency } credited { amount currency }
        lines { ...InvoiceLineFields }
      }
    }
  }
`);

export const CHANGE_PLAN = graphql(`mutation ChangePlan($plan: ID!) { changePlan(plan: $plan) { ...PlanFields } }`);

export const PORTAL_SESSION = graphql(`
  mutation BillingPortalSession($returnUrl: String!) { createBillingPortalSession(returnUrl: $returnUrl) { url } }
`);
