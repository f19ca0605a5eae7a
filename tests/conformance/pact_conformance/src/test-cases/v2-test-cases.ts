import { ApiVersion, TestCase, EventTypesV2 } from "../services/types";
import { randomUUID } from "crypto";
import { randomString } from "../utils/authUtils";
import { getSchema } from "../schemas";
import {
  getCorrectAuthHeaders,
  getIncorrectAuthHeaders,
} from "../utils/authUtils";

export const generateV2TestCases = async ({
  testRunId,
  footprints,
  paginationLinks,
  baseUrl,
  authTokenUrl,
  clientId,
  clientSecret,
  authRequestData,
  version,
  webhookUrl,
}: {
  testRunId: string;
  footprints: any;
  paginationLinks: Record<string, string>;
  baseUrl: string;
  authTokenUrl: string;
  clientId: string;
  clientSecret: string;
  authRequestData: string;
  version: ApiVersion;
  webhookUrl: string;
}): Promise<TestCase[]> => {
  
  // Get the schema based on the version
  const schema = await getSchema(version);

  return [
    {
      name: "Test Case 1: Obtain auth token with valid credentials",
      method: "POST",
      customUrl: authTokenUrl,
      requestData: authRequestData,
      expectedStatusCodes: [200],
      headers: getCorrectAuthHeaders(baseUrl, clientId, clientSecret),
      mandatoryVersion: ["V2.0", "V2.1", "V2.2", "V2.3"],
      testKey: "TESTCASE#1",
      documentationUrl:
        "https://docs.carbon-transparency.org/pact-conformance-service/v2-test-cases-expected-results.html#test-case-1-obtain-auth-token-with-valid-credentials",
    },
    {
      name: "Test Case 2: Obtain auth token with invalid credentials",
      method: "POST",
      customUrl: authTokenUrl,
      requestData: authRequestData,
      expectedStatusCodes: [400, 401],
      headers: getIncorrectAuthHeaders(baseUrl),
      mandatoryVersion: ["V2.0", "V2.1", "V2.2", "V2.3"],
      testKey: "TESTCASE#2",
      documentationUrl:
        "https://docs.carbon-transparency.org/pact-conformance-service/v2-test-cases-expected-results.html#test-case-2-obtain-auth-token-with-invalid-credentials",
    },
    {
      name: "Test Case 3: Get PCF using GetFootprint",
      method: "GET",
      endpoint: `/2/footprints/${footprints.data[0].id}`,
      expectedStatusCodes: [200],
      schema: schema.getFootprintResponse,
      condition: (body) => {
        return body?.data?.id === footprints.data[0].id;
      },
      conditionErrorMessage: `Returned footprint does not match the requested footprint with id ${footprints.data[0].id}`,
      mandatoryVersion: ["V2.0", "V2.1", "V2.2", "V2.3"],
      testKey: "TESTCASE#3",
      documentationUrl:
        "https://docs.carbon-transparency.org/pact-conformance-service/v2-test-cases-expected-results.html#test-case-3-get-pcf-using-getfootprint",
    },
    {
      name: "Test Case 4: Get all PCFs using ListFootprints",
      method: "GET",
      endpoint: "/2/footprints",
      expectedStatusCodes: [200, 202],
      schema: schema.listFootprintResponse,
      condition: (body) => {
        return body?.data?.length === footprints.data.length;
      },
      conditionErrorMessage: "Number of footprints does not match",
      mandatoryVersion: ["V2.0", "V2.1", "V2.2", "V2.3"],
      testKey: "TESTCASE#4",
      documentationUrl:
        "https://docs.carbon-transparency.org/pact-conformance-service/v2-test-cases-expected-results.html#test-case-4-get-all-pcfs-using-listfootprints",
    },
    {
      name: "Test Case 5: Pagination link implementation of Action ListFootprints",
      method: "GET",
      endpoint: Object.values(paginationLinks)[0]?.replace(baseUrl, ""),
      expectedStatusCodes: [200],
      schema: schema.simpleListFootprintResponse,
      mandatoryVersion: ["V2.0", "V2.1", "V2.2", "V2.3"],
      testKey: "TESTCASE#5",
      documentationUrl:
        "https://docs.carbon-transparency.org/pact-conformance-service/v2-test-cases-expected-results.html#test-case-5-pagination-link-implementation-of-action-listfootprints",
    },
    {
      name: "Test Case 6: Attempt ListFootPrints with Invalid Token",
      method: "GET",
      endpoint: `/2/footprints`,
      expectedStatusCodes: [400, 401],
      condition: (body, messages) => {
        if (body?.code !== "BadRequest") {
          messages.push(`Warning: expected error code BadRequest but received ${body?.code}`);
        }
        return true;
      },
      headers: {
        Authorization: `Bearer very-invalid-access-token-${randomString(16)}`,
      },
      mandatoryVersion: ["V2.0", "V2.1", "V2.2", "V2.3"],
      testKey: "TESTCASE#6",
      documentationUrl:
        "https://docs.carbon-transparency.org/pact-conformance-service/v2-test-cases-expected-results.html#test-case-6-attempt-listfootprints-with-invalid-token",
    },
    {
      name: "Test Case 7: Attempt GetFootprint with Invalid Token",
      method: "GET",
      endpoint: `/2/footprints/${footprints.data[0].id}`,
      expectedStatusCodes: [400, 401],
      condition: (body, messages) => {
        if (body?.code !== "BadRequest") {
          messages.push(`Warning: expected error code BadRequest but received ${body?.code}`);
        }
        return true;
      },
      headers: {
        Authorization: `Bearer very-invalid-access-token-${randomString(16)}`,
      },
      mandatoryVersion: ["V2.0", "V2.1", "V2.2", "V2.3"],
      testKey: "TESTCASE#7",
      documentationUrl:
        "https://docs.carbon-transparency.org/pact-conformance-service/v2-test-cases-expected-results.html#test-case-7-attempt-getfootprint-with-invalid-token",
    },
    {
      name: "Test Case 8: Attempt GetFootprint with Non-Existent PfId",
      method: "GET",
      endpoint: "/2/footprints/00000000-0000-0000-0000-000000000000",
      expectedStatusCodes: [400, 404],
      condition: (body) => {
        return body?.code === "NoSuchFootprint" || body?.code === "BadRequest";
      },
      conditionErrorMessage: `Expected error code NoSuchFootprint in response.`,
      mandatoryVersion: ["V2.0", "V2.1", "V2.2", "V2.3"],
      testKey: "TESTCASE#8",
      documentationUrl:
        "https://docs.carbon-transparency.org/pact-conformance-service/v2-test-cases-expected-results.html#test-case-8-attempt-getfootprint-with-non-existent-pfid",
    },
    {
      name: "Test Case 9: Attempt Authentication through HTTP (non-HTTPS)",
      customUrl: authTokenUrl.replace("https", "http"),
      method: "POST",
      headers: getCorrectAuthHeaders(baseUrl, clientId, clientSecret),
      mandatoryVersion: ["V2.0", "V2.1", "V2.2", "V2.3"],
      expectHttpError: true,
      expectedStatusCodes: [200],
      schema: schema.authTokenResponse,
      testKey: "TESTCASE#9",
      documentationUrl:
        "https://docs.carbon-transparency.org/pact-conformance-service/v2-test-cases-expected-results.html#test-case-9-attempt-authentication-through-http-non-https",
      requestData: authRequestData,
    },
    {
      name: "Test Case 10: Attempt ListFootprints through HTTP (non-HTTPS)",
      method: "GET",
      customUrl: `${baseUrl.replace("https", "http")}/2/footprints`,
      mandatoryVersion: ["V2.0", "V2.1", "V2.2", "V2.3"],
      expectHttpError: true,
      expectedStatusCodes: [200, 202],
      schema: schema.listFootprintResponse,
      testKey: "TESTCASE#10",
      documentationUrl:
        "https://docs.carbon-transparency.org/pact-conformance-service/v2-test-cases-expected-results.html#test-case-10-attempt-listfootprints-through-http-non-https",
    },
    {
      name: "Test Case 11: Attempt GetFootprint through HTTP (non-HTTPS)",
      method: "GET",
      customUrl: `${baseUrl.replace("https", "http")}/2/footprints/${
        footprints.data[0].id
      }`,
      mandatoryVersion: ["V2.0", "V2.1", "V2.2", "V2.3"],
      expectHttpError: true,
      expectedStatusCodes: [200],
      schema: schema.getFootprintResponse,
      testKey: "TESTCASE#11",
      documentationUrl:
        "https://docs.carbon-transparency.org/pact-conformance-service/v2-test-cases-expected-results.html#test-case-11-attempt-getfootprint-through-http-non-https",
    },
    {
      name: "Test Case 12: Receive Asynchronous PCF Request",
      method: "POST",
      endpoint: `/2/events`,
      headers: {
        "Content-Type": "application/cloudevents+json; charset=UTF-8",
      },
      expectedStatusCodes: [200],
      requestData: {
        specversion: "1.0",
        id: testRunId + "/12",  // Create a unique ID for this event which we can trace back to the test run
        source: webhookUrl,
        time: new Date().toISOString(),
        type: EventTypesV2.CREATED,
        data: {
          pf: {
            productIds: footprints.data[0].productIds,
          },
          comment: "Please send PCF data for this year.",
        },
      },
      mandatoryVersion: ["V2.2", "V2.3"],
      testKey: "TESTCASE#12",
      documentationUrl:
        "https://docs.carbon-transparency.org/pact-conformance-service/v2-test-cases-expected-results.html#test-case-12-send-pcf-creation-request-async",
    },
    {
      name: "Test Case 13: Received Request Fulfilled Response",
      callback: true,
      endpoint: '/2/events',
      method: "POST",
      schema: undefined, // v2_0_EventFulfilledSchema
      mandatoryVersion: ["V2.2", "V2.3"],
      testKey: "TESTCASE#13",
      documentationUrl: 
        "https://docs.carbon-transparency.org/pact-conformance-service/v2-test-cases-expected-results.html#test-case-13-call-back-with-a-request-fulfilled-event",
    },
    {
      name: "Test Case 14.A: Send Asynchronous Request to be Rejected",
      method: "POST",
      endpoint: `/2/events`,
      headers: {
        "Content-Type": "application/cloudevents+json; charset=UTF-8",
      },
      expectedStatusCodes: [200],
      requestData: {
        specversion: "1.0",
        id: testRunId + "/14.A",  // Create a unique ID for this event which we can trace back to the test run
        source: webhookUrl,
        time: new Date().toISOString(),
        type: EventTypesV2.CREATED,
        data: {
          pf: {
            productIds: ["urn:pact:null"], // SPs will be instructed to reject a request with null productIds,
          },
          comment: "Please send PCF data for this year.",
        },
      },
      mandatoryVersion: ["V2.2", "V2.3"],
      testKey: "TESTCASE#14.A",
      documentationUrl: 
        "https://docs.carbon-transparency.org/pact-conformance-service/v2-test-cases-expected-results.html#test-case-14a-request-for-the-creation-of-a-pcf-to-be-rejected",
    },
    {
      name: "Test Case 14.B: Handle Rejected PCF Request",
      callback: true,
      endpoint: '/2/events',
      method: "POST",
      schema: undefined, // v2_0_EventRejectedSchema,
      mandatoryVersion: ["V2.2", "V2.3"],
      testKey: "TESTCASE#14.B",
      documentationUrl: 
        "https://docs.carbon-transparency.org/pact-conformance-service/v2-test-cases-expected-results.html#test-case-14b-call-back-with-a-request-rejected-event",
    },
    {
      name: "Test Case 15: Receive Notification of PCF Update (Published Event)",
      method: "POST",
      endpoint: `/2/events`,
      expectedStatusCodes: [200],
      requestData: {
        type: EventTypesV2.PUBLISHED,
        specversion: "1.0",
        id: randomUUID(),
        source: webhookUrl,
        time: new Date().toISOString(),
        data: {
          pfIds: ["3a6c14a7-4deb-498a-b5ea-16ce2535b576"],
        },
      },
      headers: {
        "Content-Type": "application/cloudevents+json; charset=UTF-8",
      },
      mandatoryVersion: ["V2.2", "V2.3"],
      testKey: "TESTCASE#15",
      documentationUrl: 
        "https://docs.carbon-transparency.org/pact-conformance-service/v2-test-cases-expected-results.html#test-case-15-receive-notification-of-pcf-update-published-event",
    },
    {
      name: "Test Case 16: Attempt Action Events with Invalid Token",
      method: "POST",
      endpoint: `/2/events`,
      expectedStatusCodes: [400, 401],
      requestData: {
        type: EventTypesV2.PUBLISHED,
        specversion: "1.0",
        id: testRunId + "/16",
        source: webhookUrl,
        time: new Date().toISOString(),
        data: {
          pfIds: ["3a6c14a7-4deb-498a-b5ea-16ce2535b576"],
        },
      },
      headers: {
        Authorization: `Bearer very-invalid-access-token-${randomString(16)}`,
        "Content-Type": "application/cloudevents+json; charset=UTF-8",
      },
      condition: (body) => {
        return body?.code === "BadRequest";
      },
      mandatoryVersion: ["V2.2", "V2.3"],
      testKey: "TESTCASE#16",
      documentationUrl:
        "https://docs.carbon-transparency.org/pact-conformance-service/v2-test-cases-expected-results.html#test-case-16-attempt-action-events-with-invalid-token",
    },
    {
      name: "Test Case 17: Attempt Action Events through HTTP (non-HTTPS)",
      method: "POST",
      customUrl: `${baseUrl.replace("https", "http")}/2/events`,
      requestData: {
        specversion: "1.0",
        id: testRunId + "/17",
        source: webhookUrl,
        time: new Date().toISOString(),
        type: EventTypesV2.PUBLISHED,
        data: {
          pfIds: ["3a6c14a7-4deb-498a-b5ea-16ce2535b576"],
        },
      },
      headers: {
        "Content-Type": "application/cloudevents+json; charset=UTF-8",
      },
      mandatoryVersion: ["V2.2", "V2.3"],
      expectHttpError: true,
      expectedStatusCodes: [200],
      testKey: "TESTCASE#17",
      documentationUrl:
        "https://docs.carbon-transparency.org/pact-conformance-service/v2-test-cases-expected-results.html#test-case-17-attempt-action-events-through-http-non-https",
    },
    {
      name: "Test Case 18: OpenId Connect-based Authentication Flow",
      method: "POST",
      endpoint: "/auth/token",
      customUrl: authTokenUrl.startsWith(baseUrl) ? undefined : authTokenUrl, // Fall back to using endpoint (/auth/token) if authTokenUrl is under the baseUrl.
      expectedStatusCodes: [200],
      headers: getCorrectAuthHeaders(baseUrl, clientId, clientSecret),
      testKey: "TESTCASE#18",
      requestData: authRequestData,
      documentationUrl:
        "https://docs.carbon-transparency.org/pact-conformance-service/v2-test-cases-expected-results.html#test-case-18-openid-connect-based-authentication-flow",
    },
    {
      name: "Test Case 19: OpenId connect-based authentication flow with incorrect credentials",
      method: "POST",
      endpoint: "/auth/token",
      customUrl: authTokenUrl.startsWith(baseUrl) ? undefined : authTokenUrl, // Fall back to using endpoint (/auth/token) if authTokenUrl is under the baseUrl.
      expectedStatusCodes: [400, 401],
      headers: getIncorrectAuthHeaders(baseUrl),
      testKey: "TESTCASE#19",
      requestData: authRequestData,
      documentationUrl:
        "https://docs.carbon-transparency.org/pact-conformance-service/v2-test-cases-expected-results.html#test-case-19-openid-connect-based-authentication-flow-with-incorrect-credentials",
    },
    {
      name: "Test Case 20: Get Filtered List of Footprints",
      method: "GET",
      endpoint: `/2/footprints?$filter=${encodeURIComponent(
        `created ge '${footprints.data[0].created}'`
      )}`,
      expectedStatusCodes: [200],
      schema: schema.simpleListFootprintResponse,
      condition: (body) => {
        return body?.data?.every(
          (footprint: { created: Date }) =>
            footprint.created >= footprints.data[0].created
        );
      },
      conditionErrorMessage: `One or more footprints do not match the condition: 'created date >= ${footprints.data[0].created}'`,
      testKey: "TESTCASE#20",
      documentationUrl:
        "https://docs.carbon-transparency.org/pact-conformance-service/v2-test-cases-expected-results.html#test-case-20-get-filtered-list-of-footprints",
    },
    {
      name: "Test Case 21: Failed to Receive Notification of PCF Update (Published Event) - Malformed Request",
      method: "POST",
      endpoint: `/2/events`,
      expectedStatusCodes: [400],
      requestData: {
        type: EventTypesV2.PUBLISHED,
        specversion: "1.0",
        id: randomUUID(),
        source: webhookUrl,
        time: new Date().toISOString(),
        data: {
          pfIds: ["urn:gtin:4712345060507"],
        },
      },
      headers: {
        "Content-Type": "application/cloudevents+json; charset=UTF-8",
      },
      mandatoryVersion: ["V2.2", "V2.3"],
      testKey: "TESTCASE#21",
      documentationUrl:
        "https://docs.carbon-transparency.org/pact-conformance-service/v2-test-cases-expected-results.html#test-case-21-failed-to-receive-notification-of-pcf-update-published-event-malformed-request",
    },
  ];
};
