export const WEBHOOK_EVENTS = ["CALL_CREATED", "CALL_STARTED", "CALL_ENDED", "TRANSCRIPT_READY"] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

export interface Endpoint {
  id: string;
  url: string;
  description: string;
  events: WebhookEvent[];
  enabled: boolean;
  createdAt: string;
}

export interface Delivery {
  id: string;
  eventType: string;
  status: "PENDING" | "DELIVERED" | "FAILED";
  attempts: number;
  nextAttemptAt: string | null;
  lastStatusCode: number | null;
  lastError: string | null;
  payload: string;
  createdAt: string;
  deliveredAt: string | null;
}

const ENDPOINT_FIELDS = "id url description events enabled createdAt";
const DELIVERY_FIELDS = "id eventType status attempts nextAttemptAt lastStatusCode lastError payload createdAt deliveredAt";

export const ENDPOINTS = `query WebhookEndpoints { webhookEndpoints(first: 100) { nodes { ${ENDPOINT_FIELDS} } } }`;
export const ENDPOINT = `query WebhookEndpoint($id: ID!) { webhookEndpoint(id: $id) { ${ENDPOINT_FIELDS} } }`;
export const DELIVERIES = `query WebhookDeliveries($id: ID!, $first: Int!, $after: String, $status: DeliveryStatus) {
  webhookEndpoint(id: $id) {
    deliveries(first: $first, after: $after, status: $status) {
      nodes { ${DELIVERY_FIELDS} }
      pageInfo { hasNextPage endCursor }
    }
  }
}`;
export const CREATE_ENDPOINT = `mutation CreateWebhookEndpoint($input: WebhookEndpointInput!) {
  createWebhookEndpoint(input: $input) { secret endpoint { ${ENDPOINT_FIELDS} } }
}`;
export const UPDATE_ENDPOINT = `mutation UpdateWebhookEndpoint($id: ID!, $input: WebhookEndpointInput!) {
  updateWebhookEndpoint(id: $id, input: $input) { ${ENDPOINT_FIELDS} }
}`;
export const DELETE_ENDPOINT = `mutation DeleteWebhookEndpoint($id: ID!) { deleteWebhookEndpoint(id: $id) }`;
export const ROTATE_SECRET = `mutation RotateWebhookSecret($id: ID!) { rotateWebhookSecret(id: $id) { secret } }`;
export const RETRY_DELIVERY = `mutation RetryWebhookDelivery($id: ID!) { retryWebhookDelivery(id: $id) { ${DELIVERY_FIELDS} } }`;
