using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Security;
using Google.Protobuf;
using Grpc.Core;

namespace Cratus.Randomization.Server.Tests;

/// <summary>
/// REST for EDC systems, over real HTTP on loopback with real tokens: a site system signed in by client credentials
/// randomizes and reads through the JSON routes, and every answer (blinding, retries, site scope, refusals, the audit
/// trail) is the gRPC door's, because the transcoded call is the gRPC call. Errors are google.rpc.Status JSON.
/// </summary>
public abstract class RestTests : OnEachDatabase
{
    private static readonly string[] BlindedFields = ["participantId", "siteCode", "screeningId", "randomizationNumber", "productCode", "randomizedAt", "emergencyUnblinded"];

    private sealed record Reply(HttpStatusCode Status, JsonElement Json, string Body, HttpResponseHeaders Headers, string? ContentType)
    {
        public string? Reason => Details("type.googleapis.com/google.rpc.ErrorInfo").Select(d => d.GetProperty("reason").GetString()).SingleOrDefault();

        public IEnumerable<JsonElement> Details(string type) => Json.TryGetProperty("details", out var details)
            ? details.EnumerateArray().Where(d => d.GetProperty("@type").GetString() == type) : [];
    }

    /// <summary>An EDC's HTTP client of the REST routes on the web port, as the bearer of <paramref name="token"/>.</summary>
    private sealed class Rest(TrialServer server, string? token) : IDisposable
    {
        private readonly HttpClient _http = new() { BaseAddress = new Uri(server.WebAddress + "/") };

        public Task<Reply> GetAsync(string path) => SendAsync(new HttpRequestMessage(HttpMethod.Get, path));

        public Task<Reply> PostAsync(string path, string json) =>
            SendAsync(new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(json, Encoding.UTF8, "application/json") });

        public Task<Reply> PostAsync(string path, IMessage message) => PostAsync(path, JsonFormatter.Default.Format(message));

        public async Task<Reply> SendAsync(HttpRequestMessage request)
        {
            if (token is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            // As a well-behaved client sends a large body: the server may refuse it (413) before it is sent, and the
            // client must then not be still writing it into a closed connection.
            if (request.Content?.Headers.ContentLength > 64 * 1024) request.Headers.ExpectContinue = true;
            using var reply = await _http.SendAsync(request);
            var body = await reply.Content.ReadAsStringAsync();
            return new Reply(reply.StatusCode, body.Length == 0 ? default : JsonDocument.Parse(body).RootElement.Clone(), body, reply.Headers,
                reply.Content.Headers.ContentType?.MediaType);
        }

        public void Dispose() => _http.Dispose();
    }

    private TrialServer Server() => NewServer(onLoopback: true);

    private static async Task<string> SiteSystemTokenAsync(TrialServer server, string clientId, string site)
    {
        var registered = await server.As(TrialRole.Administrator).Administration.RegisterSiteSystemAsync(
            new RegisterSiteSystemRequest { ClientId = clientId, DisplayName = $"EDC {clientId}", Sites = { site }, Reason = "go-live" });
        using var oidc = server.OpenId();
        var issued = await oidc.TokenAsync(new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials", ["client_id"] = clientId, ["client_secret"] = registered.ClientSecret, ["scope"] = "cratus",
        });
        Assert.True(issued.AccessToken is not null, $"client credentials for {clientId} failed: {issued.Json}");
        return issued.AccessToken!;
    }

    private static string? ReasonOf(RpcException e) => e.GetRpcStatus()?.GetDetail<Google.Rpc.ErrorInfo>()?.Reason;

    [ProviderFact]
    public async Task Randomize_OverRestBySiteSystem_IsBlindedRetrySafeSiteScopedAndAudited()
    {
        await using var server = Server();
        await server.As(TrialRole.Administrator).Administration.CreateSiteAsync(new CreateSiteRequest { Code = "JH", Name = "Johns Hopkins", Reason = "second site" });
        await server.Statistician().GenerateScheduleAsync(new GenerateScheduleRequest { Reason = "initial" });
        var otherSite = (await server.Site("JH").RandomizeAsync(Requests.Randomize("JH-1", site: "JH"))).Assignment.ParticipantId;
        using var edc = new Rest(server, await SiteSystemTokenAsync(server, "edc-um", "UM"));
        var request = Requests.Randomize("REST-1");

        var first = await edc.PostAsync("api/v1/participants:randomize", request);
        var retried = await edc.PostAsync("api/v1/participants:randomize", request);
        var participant = first.Json.GetProperty("assignment").GetProperty("participantId").GetString()!;
        var read = await edc.GetAsync($"api/v1/participants/{participant}/assignment");
        var trial = await edc.GetAsync("api/v1/trial");
        var commitment = await edc.GetAsync("api/v1/trial/commitment");
        var escalation = await edc.GetAsync("api/v1/trial/escalation");
        var otherSitesOverRest = await edc.GetAsync($"api/v1/participants/{otherSite}/assignment");
        var otherSitesOverGrpc = await Assert.ThrowsAsync<RpcException>(() =>
            server.As(TrialRole.SiteCoordinator, "UM").Randomization.GetAssignmentAsync(new GetAssignmentRequest { ParticipantId = otherSite }).ResponseAsync);
        var atOtherSite = await edc.PostAsync("api/v1/participants:randomize", Requests.Randomize("REST-2", site: "JH"));
        var ineligible = Requests.Randomize("REST-3");
        ineligible.Eligibility.MmseScore = 20;
        var refused = await edc.PostAsync("api/v1/participants:randomize", ineligible);

        Assert.Equal(HttpStatusCode.OK, first.Status);
        var assignment = first.Json.GetProperty("assignment");
        Assert.Equal(BlindedFields.Order(), assignment.EnumerateObject().Select(p => p.Name).Order());
        Assert.Equal(["assignment"], first.Json.EnumerateObject().Select(p => p.Name));
        Assert.Equal(("UM", "REST-1"), (assignment.GetProperty("siteCode").GetString(), assignment.GetProperty("screeningId").GetString()));
        foreach (var word in new[] { "arm", "dose", "placebo", "cell", "treatment", "allo-hMSC" })
            Assert.DoesNotContain(word, first.Body, StringComparison.OrdinalIgnoreCase);
        Assert.Equal((HttpStatusCode.OK, first.Body), (retried.Status, retried.Body));
        Assert.Equal(HttpStatusCode.OK, read.Status);
        Assert.Equal(assignment.GetRawText(), read.Json.GetProperty("assignment").GetRawText());
        Assert.Equal(HttpStatusCode.OK, trial.Status);
        Assert.Equal("CRATUS", trial.Json.GetProperty("trialId").GetString());
        Assert.True(trial.Json.GetProperty("scheduleInPlace").GetBoolean());
        Assert.DoesNotContain("placebo", trial.Body, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(HttpStatusCode.OK, commitment.Status);
        Assert.Matches("^[0-9a-f]{64}$", commitment.Json.GetProperty("sha256Hex").GetString());
        Assert.Equal(HttpStatusCode.OK, escalation.Status);
        Assert.True(escalation.Json.TryGetProperty("status", out _));
        // Another site's participant: the same refusal as over gRPC (a participant not seen, never "not yours").
        Assert.Equal(HttpStatusCode.NotFound, otherSitesOverRest.Status);
        Assert.Equal("PARTICIPANT_NOT_FOUND", otherSitesOverRest.Reason);
        Assert.Equal(ReasonOf(otherSitesOverGrpc), otherSitesOverRest.Reason);
        Assert.Equal((int)StatusCode.NotFound, otherSitesOverRest.Json.GetProperty("code").GetInt32());
        Assert.Equal(otherSitesOverGrpc.Status.Detail.Replace(otherSite, "", StringComparison.Ordinal),
            otherSitesOverRest.Json.GetProperty("message").GetString()!.Replace(otherSite, "", StringComparison.Ordinal));
        Assert.Equal((HttpStatusCode.Forbidden, "SITE_NOT_SERVED"), (atOtherSite.Status, atOtherSite.Reason));
        Assert.Equal((HttpStatusCode.BadRequest, "PARTICIPANT_INELIGIBLE"), (refused.Status, refused.Reason));
        Assert.Contains(refused.Details("type.googleapis.com/google.rpc.PreconditionFailure").Single().GetProperty("violations").EnumerateArray(),
            v => v.GetProperty("subject").GetString() == "mmse");
        Assert.Contains(refused.Details("type.googleapis.com/google.rpc.BadRequest").Single().GetProperty("fieldViolations").EnumerateArray(),
            v => v.GetProperty("field").GetString() == "eligibility.mmse_score");
        // The retry wrote nothing: one randomization, one audit event, one stored answer for the request id.
        var events = (await server.As(TrialRole.Monitor).Audit.ListAuditEventsAsync(new ListAuditEventsRequest { PageSize = 500 })).Events;
        Assert.Single(events, e => e is { Action: "participant.randomized", User: "edc-um", Role: "site_system" } && e.Target == participant);
        Assert.Single(await server.QueryAsync($"SELECT \"RequestId\" FROM \"WriteRequests\" WHERE \"RequestId\" = '{request.RequestId}'"));
        Assert.Equal(2, (await server.As(TrialRole.Monitor).Trial.GetTrialAsync(new GetTrialRequest())).RandomizedParticipants);
    }

    [ProviderFact]
    public async Task Refusals_OverRest_AreJsonStatusesWithAReason_NeverAServerError()
    {
        await using var server = Server();
        await server.Statistician().GenerateScheduleAsync(new GenerateScheduleRequest { Reason = "initial" });
        using var anonymous = new Rest(server, null);
        using var forged = new Rest(server, server.Token(TrialRole.SiteCoordinator, sites: ["UM"], signingKey: TestSecrets.NewSigningKey()));
        using var pharmacist = new Rest(server, server.Token(TrialRole.Pharmacist));
        using var coordinator = new Rest(server, server.Token(TrialRole.SiteCoordinator, sites: ["UM"]));

        var noToken = await anonymous.GetAsync("api/v1/trial");
        var badToken = await forged.GetAsync("api/v1/trial");
        var notPermittedRequest = Requests.Randomize("REST-8");
        notPermittedRequest.RequestId = "not-a-uuid";
        var notPermitted = await pharmacist.PostAsync("api/v1/participants:randomize", notPermittedRequest);
        var malformed = await coordinator.PostAsync("api/v1/participants:randomize", "{ \"siteCode\": \"UM\", ");
        var wrongType = await coordinator.PostAsync("api/v1/participants:randomize", "{ \"siteCode\": 12, \"eligibility\": \"yes\" }");
        var unknownField = await coordinator.PostAsync("api/v1/participants:randomize", "{ \"arm\": \"A\" }");
        var withoutRequestId = Requests.Randomize("REST-9");
        withoutRequestId.RequestId = "";
        var missingId = await coordinator.PostAsync("api/v1/participants:randomize", withoutRequestId);
        var unknownParticipant = await coordinator.GetAsync("api/v1/participants/P-NOSUCHONE0/assignment");
        var tooLarge = await coordinator.PostAsync("api/v1/participants:randomize", $$"""{ "screeningId": "{{new string('x', 2 * 1024 * 1024)}}" }""");

        Assert.Equal((HttpStatusCode.Unauthorized, "TOKEN_MISSING"), (noToken.Status, noToken.Reason));
        Assert.Equal("Bearer", noToken.Headers.WwwAuthenticate.Single().Scheme);
        Assert.Equal((HttpStatusCode.Unauthorized, "TOKEN_INVALID"), (badToken.Status, badToken.Reason));
        // The access interceptor judged the role on the transcoded route too: before the retry-safe writes looked at the id.
        Assert.Equal((HttpStatusCode.Forbidden, "ROLE_NOT_PERMITTED"), (notPermitted.Status, notPermitted.Reason));
        Assert.Equal((HttpStatusCode.BadRequest, "MALFORMED_MESSAGE"), (malformed.Status, malformed.Reason));
        Assert.Equal((HttpStatusCode.BadRequest, "MALFORMED_MESSAGE"), (wrongType.Status, wrongType.Reason));
        // JSON transcoding skips fields a message does not have (as proto3 JSON parsers may): the request is judged
        // without them, so a misspelt field is refused as the missing one it leaves.
        Assert.Equal((HttpStatusCode.BadRequest, "REQUEST_INVALID"), (unknownField.Status, unknownField.Reason));
        Assert.Equal((HttpStatusCode.BadRequest, "REQUEST_INVALID"), (missingId.Status, missingId.Reason));
        Assert.Contains(missingId.Details("type.googleapis.com/google.rpc.BadRequest").Single().GetProperty("fieldViolations").EnumerateArray(),
            v => v.GetProperty("field").GetString() == "request_id");
        Assert.Equal((HttpStatusCode.NotFound, "PARTICIPANT_NOT_FOUND"), (unknownParticipant.Status, unknownParticipant.Reason));
        Assert.Equal((HttpStatusCode.RequestEntityTooLarge, "REQUEST_TOO_LARGE"), (tooLarge.Status, tooLarge.Reason));
        foreach (var reply in new[] { noToken, badToken, notPermitted, malformed, wrongType, unknownField, missingId, unknownParticipant, tooLarge })
        {
            Assert.Equal("application/json", reply.ContentType);
            Assert.Equal("cratus.randomization.v1", reply.Details("type.googleapis.com/google.rpc.ErrorInfo").Single().GetProperty("domain").GetString());
            Assert.False(string.IsNullOrWhiteSpace(reply.Json.GetProperty("message").GetString()));
            Assert.DoesNotContain(" at ", reply.Body, StringComparison.Ordinal);
            Assert.DoesNotContain("Exception", reply.Body, StringComparison.Ordinal);
        }
        Assert.Empty(await server.QueryAsync("SELECT 1 FROM \"Participants\""));
    }

    [ProviderFact]
    public async Task RateLimit_OverRest_IsTooManyRequestsWithRetryAfterAndAReason()
    {
        await using var server = NewServer(onLoopback: true, new Dictionary<string, string> { ["Limits:Burst"] = "1", ["Limits:PermitsPerSecond"] = "1" });
        using var coordinator = new Rest(server, server.Token(TrialRole.SiteCoordinator, sites: ["UM"]));

        var replies = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => coordinator.GetAsync("api/v1/trial")));

        var refused = replies.First(r => r.Status == HttpStatusCode.TooManyRequests);
        Assert.Equal("RATE_LIMITED", refused.Reason);
        Assert.Equal((int)StatusCode.ResourceExhausted, refused.Json.GetProperty("code").GetInt32());
        Assert.Equal(TimeSpan.FromSeconds(1), refused.Headers.RetryAfter?.Delta);
    }

    [ProviderFact]
    public async Task EmergencyUnblind_OverRestByTheInvestigator_IsSignedAndAudited()
    {
        await using var server = Server();
        await server.Statistician().GenerateScheduleAsync(new GenerateScheduleRequest { Reason = "initial" });
        var participant = (await server.Site().RandomizeAsync(Requests.Randomize("REST-U1"))).Assignment.ParticipantId;
        var investigatorToken = server.Token(TrialRole.Investigator, "investigator-um", sites: ["UM"]);
        using var investigator = new Rest(server, investigatorToken);
        using var edc = new Rest(server, await SiteSystemTokenAsync(server, "edc-um", "UM"));
        var path = $"api/v1/participants/{participant}:emergencyUnblind";

        var unsigned = await investigator.PostAsync(path, $$"""{ "reason": "anaphylaxis", "requestId": "{{Guid.NewGuid()}}" }""");
        var bySiteSystem = await edc.PostAsync(path, $$"""{ "reason": "anaphylaxis", "requestId": "{{Guid.NewGuid()}}" }""");
        var proof = await investigator.PostAsync("api/v1/signatures:reauthenticate",
            $$"""{ "action": "SIGNED_ACTION_EMERGENCY_UNBLINDING", "recordId": "{{participant}}", "password": "{{Signing.Password}}" }""");
        var unblinded = await investigator.PostAsync(path, $$"""
            { "reason": "anaphylaxis; the treating physician must know", "requestId": "{{Guid.NewGuid()}}",
              "signature": { "signingProof": "{{proof.Json.GetProperty("signingProof").GetString()}}", "meaning": "SIGNATURE_MEANING_RESPONSIBILITY" } }
            """);

        Assert.Equal((HttpStatusCode.BadRequest, "SIGNATURE_REQUIRED"), (unsigned.Status, unsigned.Reason));
        Assert.Equal((HttpStatusCode.Forbidden, "ROLE_NOT_PERMITTED"), (bySiteSystem.Status, bySiteSystem.Reason));
        Assert.Equal(HttpStatusCode.OK, proof.Status);
        Assert.Equal(HttpStatusCode.OK, unblinded.Status);
        Assert.True(unblinded.Json.GetProperty("assignment").GetProperty("emergencyUnblinded").GetBoolean());
        Assert.Contains(unblinded.Json.GetProperty("treatment").GetProperty("armCode").GetString(), new[] { "A", "B", "C" });
        var events = (await server.As(TrialRole.Monitor).Audit.ListAuditEventsAsync(new ListAuditEventsRequest { PageSize = 500 })).Events;
        var unblinding = Assert.Single(events, e => e.Action == "unblinding.emergency");
        Assert.Equal(("investigator-um", participant), (unblinding.User, unblinding.Target));
        Assert.Equal(SignatureMeaning.Responsibility, unblinding.Signature.Meaning);
    }

    [ProviderFact]
    public async Task OpenApi_ListsTheRestRoutesWithTheBearerScheme_AndTheReferencePageRendersOffline()
    {
        await using var server = Server();
        using var web = new HttpClient { BaseAddress = new Uri(server.WebAddress + "/") };

        using var document = JsonDocument.Parse(await web.GetStringAsync("api/openapi/v1.json"));
        using var page = await web.GetAsync("api/docs/index.html");
        var html = await page.Content.ReadAsStringAsync();
        var settings = await web.GetStringAsync("api/docs/index.js");
        using var script = await web.GetAsync("api/docs/swagger-ui-bundle.js");

        var paths = document.RootElement.GetProperty("paths").EnumerateObject().ToDictionary(p => p.Name, p => p.Value);
        Assert.Equal(
            new[] { "/api/v1/participants/{participantId}/assignment", "/api/v1/participants/{participantId}:emergencyUnblind",
                "/api/v1/participants:randomize", "/api/v1/signatures:reauthenticate", "/api/v1/trial", "/api/v1/trial/commitment",
                "/api/v1/trial/escalation" }.Order(StringComparer.Ordinal),
            paths.Keys.Order(StringComparer.Ordinal));
        Assert.True(paths["/api/v1/participants:randomize"].TryGetProperty("post", out _));
        Assert.True(paths["/api/v1/trial"].TryGetProperty("get", out _));
        var bearer = document.RootElement.GetProperty("components").GetProperty("securitySchemes").GetProperty("bearer");
        Assert.Equal(("http", "bearer"), (bearer.GetProperty("type").GetString(), bearer.GetProperty("scheme").GetString()));
        Assert.Contains(document.RootElement.GetProperty("security").EnumerateArray(), r => r.TryGetProperty("bearer", out _));
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        Assert.Contains("/api/openapi/v1.json", settings, StringComparison.Ordinal);
        // Its scripts and styles come from this server (Swashbuckle's embedded copies), never from the internet.
        Assert.DoesNotContain("src=\"http", html, StringComparison.Ordinal);
        Assert.DoesNotContain("href=\"http", html, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, script.StatusCode);
    }
}

public sealed class RestTestsOnSqlite : RestTests
{
    protected override TestDatabase Database => TestDatabase.Sqlite;
}

public sealed class RestTestsOnPostgreSql : RestTests, IRunsOnPostgreSql
{
    protected override TestDatabase Database => TestDatabase.PostgreSql;
}

public sealed class RestTestsOnSqlServer : RestTests, IRunsOnSqlServer
{
    protected override TestDatabase Database => TestDatabase.SqlServer;
}
