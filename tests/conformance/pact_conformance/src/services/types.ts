// TODO: Get these from OpenAPI spec directly
export type ApiVersion = "V2.0" | "V2.1" | "V2.2" | "V2.3" | "V3.0";

export enum EventTypesV2 {
  CREATED = "org.wbcsd.pathfinder.ProductFootprintRequest.Created.v1",
  FULFILLED = "org.wbcsd.pathfinder.ProductFootprintRequest.Fulfilled.v1",
  REJECTED = "org.wbcsd.pathfinder.ProductFootprintRequest.Rejected.v1",
  PUBLISHED = "org.wbcsd.pathfinder.ProductFootprint.Published.v1",
}

export enum EventTypesV3 {
  CREATED = "org.wbcsd.pact.ProductFootprint.RequestCreatedEvent.3",
  FULFILLED = "org.wbcsd.pact.ProductFootprint.RequestFulfilledEvent.3",
  REJECTED = "org.wbcsd.pact.ProductFootprint.RequestRejectedEvent.3",
  PUBLISHED = "org.wbcsd.pact.ProductFootprint.PublishedEvent.3",
}

// Constants for test run status
export enum TestRunStatus {
  PASS = "PASS",
  FAIL = "FAIL",
  PENDING = "PENDING",
}

// Constants for test result status
export enum TestCaseResultStatus {
  PENDING = "PENDING",
  SUCCESS = "SUCCESS",
  FAILURE = "FAILURE",
}

export interface TestCase {
  name: string;
  callback?: boolean;
  method: "GET" | "POST" | "PUT" | "DELETE";
  endpoint?: string;
  expectedStatusCodes?: number[];
  schema?: object;
  requestData?: any;
  condition?: (body: any, messages: string[]) => boolean;
  conditionErrorMessage?: string;
  headers?: Record<string, string>;
  customUrl?: string;
  mandatoryVersion?: ApiVersion[];
  testKey: string;
  documentationUrl?: string;
  expectHttpError?: boolean;
}

export interface TestResult {
  name: string;
  status: TestCaseResultStatus;
  errorMessage?: string;
  apiResponse?: string;
  mandatory: boolean;
  testKey: string;
  curlRequest?: string;
  documentationUrl?: string;
}

export interface TestRunStartParams {
  baseUrl: string;
  version: ApiVersion;
  clientId: string;
  clientSecret: string;
  organizationName: string;
  adminEmail: string;
  adminName: string;
  customAuthBaseUrl?: string;
  scope?: string;
  audience?: string;
  resource?: string;
  testCaseNumbers?: number[];
}

export interface TestRun {
  testRunId: string;
  organizationName: string;
  adminEmail: string;
  adminName: string;
  timestamp: string;
  status: TestRunStatus;
  techSpecVersion: string;
  passingPercentage?: number;
  data: unknown; // jsonb, flexible field to store additional data like productIds;
}

// TODO: Rename to TestRunDetailsWithResults and extend TestRunDetails after testId naming is fixed
export interface TestRunWithResults extends TestRun {
  results: TestResult[];
}

export interface PagingParameters {
  query?: string;
  page?: string;
  pageSize?: string;
}

/**
 * Interface representing a storage mechanism for managing test runs, 
 * test results, and related data.
 * This can be implemented using different storage backends, like a database,
 * but could also be output to files or the console for simpler use cases.
 * For a one-off test run, a simple console or file-based implementation might suffice.
 * For persistent storage and historical data, a database implementation is recommended.
 */
export interface TestStorage {
  /**
   * Save a test run.
   * @param details - The details of the test run to save.
   * @returns A promise that resolves when the operation is complete.
   */
  saveTestRun(testRun: TestRun): Promise<void>;

  /**
   * Retrieves a test run by its ID.
   * @param testRunId - The unique identifier of the test run.
   * @returns A promise that resolves with the test run details, or an exception if not found.
   */
  getTestRun(testRunId: string): Promise<TestRun>;

  /**
   * Updates the status of a test run based on its test case results.
   * @param testRunId - The unique identifier of the test run.
   * @returns A promise that resolves when the operation is complete.
   */
  updateTestRunStatus(testRunId: string): Promise<void>;

  /**
   * Saves the results of test cases.
   * @param testRunId - The unique identifier of the test run.
   * @param testResults - An array of test case results to save.
   * @param overwriteExisting - Whether to overwrite existing results for the same test cases.
   * @returns A promise that resolves when the operation is complete.
   */
  saveTestCaseResults(
    testRunId: string,
    testResults: TestResult[],
    overwriteExisting: boolean
  ): Promise<void>;

  /**
   * Retrieves the test run and its test case results.
   * @param testRunId - The unique identifier of the test run.
   * @returns A promise that resolves with the test run and its results or an exception if not found.
   */
  getTestRunWithResults(testRunId: string): Promise<TestRunWithResults>;

  /**
   * Lists test runs with optional filtering and pagination.
   * @param paging - The pagination parameters, including page number and page size.
   * @param adminEmail - (Optional) The email of the admin to filter test runs by.
   * @returns A promise that resolves with an array of test run details.
   */
  listTestRuns(
    paging: PagingParameters,
    adminEmail?: string
  ): Promise<TestRun[]>;
}
