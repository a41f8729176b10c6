import { graphql } from "../../gql";
import type { WebhookDeliveryFieldsFragment, WebhookEndpointFieldsFragment, WebhookEvent } from "../../gql/graphql";

export type Endpoint = WebhookEndpointFieldsFragment;
export type Delivery = WebhookDeliveryFieldsFragment;
export type { WebhookEvent };

export const WEBHOOK_EVENTS: WebhookEvent[] = [
  "CALL_CREATED",
  "CALL_STARTED",
  "CALL_ENDED",
  "TRANSCRIPT_READY",
  "BILLING_INVOICE_ISSUED",
  "BILLING_INVOICE_PAID",
  "BILLING_PAYMENT_FAILED",
  "BILLING_STATUS_CHANGED",
];

graphql(`fragment WebhookEndpointFields on WebhookEndpoint { id url description events enabled createdAt }`);
graphql(`
  fragment WebhookDeliveryFields on WebhookDelivery {
    id eventType status attempts nextAttemptAt lastStatusCode lastError payload createdAt deliveredAt
  }
`);

export const ENDPOINTS = graphql(`
  query WebhookEndpoints {
    webhookEndpoints(first: 50) {
      nodes {
        ...WebhookEndpointFields
        failed: deliveries(first: 5, status: FAILED) { nodes { id } pageInfo { hasNextPage } }
      }
    }
  }
`);
export const ENDPOINT = graphql(`query WebhookEndpoint($id: ID!) { webhookEndpoint(id: $id) { ...WebhookEndpointFields } }`);
export const DELIVERIES = graphql(`
  query WebhookDeliveries($id: ID!, $first: Int!, $after: String, $status: DeliveryStatus) {
    webhookEndpoint(id: $id) {
      deliveries(first: $first, after: $after, status: $status) {
        nodes { ...WebhookDeliveryFields }
        pageInfo { hasNextPage endCursor }
      }
    }
  }
`);
export const CREATE_ENDPOINT = graphql(`
  mutation CreateWebhookEndpoint($input: WebhookEndpointInput!) {
    createWebhookEndpoint(input: $input) { secret endpoint { ...WebhookEndpointFields } }
  }
`);
export const UPDATE_ENDPOINT = graphql(`
  mutation UpdateWebhookEndpoint($id: ID!, $input: WebhookEndpointInput!) {
    updateWebhookEndpoint(id: $id, input: $input) { ...WebhookEndpointFields }
  }
`);
export const DELETE_ENDPOINT = graphql(`mutation DeleteWebhookEndpoint($id: ID!) { deleteWebhookEndpoint(id: $id) }`);
export const ROTATE_SECRET = graphql(`mutation RotateWebhookSecret($id: ID!) { rotateWebhookSecret(id: $id) { secret } }`);
export const RETRY_DELIVERY = graphql(`
  mutation RetryWebhookDelivery($id: ID!) { retryWebhookDelivery(id: $id) { ...WebhookDeliveryFields } }
`);
