using System.Buffers.Binary;
using System.Security.Cryptography;
using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Security;
using Grpc.Core;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace Cratus.Randomization.Server.Tests;

public abstract class IdentityTests : OnEachDatabase
{
    private const string AdminPassword = "correct-horse-battery-9";

    private static IdentityService.IdentityServiceClient Anonymous(TrialServer server) => new(server.Channel(token: null));

    private static async Task<AdministrationService.AdministrationServiceClient> BootstrapAsync(TrialServer server)
    {
        await Anonymous(server).BootstrapAdministratorAsync(new BootstrapAdministratorRequest
        {
            BootstrapSecret = server.BootstrapSecret, UserName = "alice-admin", FullName = "Alice Admin", Password = AdminPassword,
        });
        return new AdministrationService.AdministrationServiceClient(server.Channel(await server.SignInAsync("alice-admin", AdminPassword)));
    }

    private static async Task<string> CreateUserAsync(AdministrationService.AdministrationServiceClient admin, string name, string role, params string[] sites) =>
        (await admin.CreateUserAsync(new CreateUserRequest { UserName = name, FullName = $"Full {name}", Role = role, Sites = { sites }, Reason = "new staff" })).InitialPassword;

    /// <summary>A person created by the administrator who has chosen their own password at the first sign-in.</summary>
    private static async Task<string> PersonAsync(TrialServer server, AdministrationService.AdministrationServiceClient admin, string name, string role, params string[] sites)
    {
        var initial = await CreateUserAsync(admin, name, role, sites);
        var chosen = $"{name}-own-passphrase-2026";
        using var browser = server.OpenId();
        Assert.Equal(System.Net.HttpStatusCode.Redirect, (await browser.ChangePasswordPageAsync(name, initial, chosen)).StatusCode);
        return chosen;
    }

    private static Dictionary<string, string> Claims(string accessToken)
    {
        var token = new Microsoft.IdentityModel.JsonWebTokens.JsonWebToken(accessToken);
        return token.Claims.GroupBy(c => c.Type).ToDictionary(g => g.Key, g => string.Join(",", g.Select(c => c.Value)));
    }

    [ProviderFact]
    public async Task BootstrapAdministrator_OneTimeSecret_CreatesTheFirstAdministratorOnce()
    {
        await using var server = NewServer();

        var wrong = await Assert.ThrowsAsync<RpcException>(() => Anonymous(server).BootstrapAdministratorAsync(new BootstrapAdministratorRequest
        {
            BootstrapSecret = "guess", UserName = "mallory", FullName = "Mallory", Password = AdminPassword,
        }).ResponseAsync);
        var admin = await BootstrapAsync(server);
        var again = await Assert.ThrowsAsync<RpcException>(() => Anonymous(server).BootstrapAdministratorAsync(new BootstrapAdministratorRequest
        {
            BootstrapSecret = server.BootstrapSecret, UserName = "second-admin", FullName = "Second Admin", Password = AdminPassword,
        }).ResponseAsync);

        Assert.Equal(StatusCode.Unauthenticated, wrong.StatusCode);
        Assert.Equal(StatusCode.FailedPrecondition, again.StatusCode);
        var users = await admin.ListUsersAsync(new ListUsersRequest());
        Assert.Equal("alice-admin", Assert.Single(users.Users).UserName);
    }

    [ProviderFact]
    public async Task FirstSignIn_OneTimePassword_MustBeChangedUnderThePolicy_ThenTokensCarryRoleAndSites()
    {
        await using var server = NewServer();
        var admin = await BootstrapAsync(server);
        var initial = await CreateUserAsync(admin, "carol", "site_coordinator", "UM");
        await server.Statistician().GenerateScheduleAsync(new GenerateScheduleRequest { Reason = "initial" });
        using var browser = server.OpenId();

        var beforeChange = await browser.PasswordGrantAsync("carol", initial);
        var signInPage = await browser.SignInPageAsync("carol", initial);
        var sameAsName = await browser.ChangePasswordPageAsync("carol", initial, "carol");
        var tooShort = await browser.ChangePasswordPageAsync("carol", initial, "short-1");
        var unchanged = await browser.ChangePasswordPageAsync("carol", initial, initial);
        var changed = await browser.ChangePasswordPageAsync("carol", initial, "carol-own-passphrase-2026");
        var token = await server.SignInAsync("carol", "carol-own-passphrase-2026");
        var carol = server.Channel(token);
        var randomized = await new RandomizationService.RandomizationServiceClient(carol).RandomizeAsync(Requests.Randomize("SCR-1"));
        var pharmacy = await Assert.ThrowsAsync<RpcException>(() => new PharmacyService.PharmacyServiceClient(carol)
            .GetDoseOrderAsync(new GetDoseOrderRequest { ParticipantId = randomized.Assignment.ParticipantId }).ResponseAsync);

        Assert.Equal("invalid_grant", beforeChange.Error);
        Assert.Contains("one-time password", beforeChange.Get("error_description"), StringComparison.Ordinal);
        Assert.Equal(System.Net.HttpStatusCode.Redirect, signInPage.StatusCode);
        Assert.Contains("/Account/ChangePassword", signInPage.Headers.Location!.OriginalString, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("must not be the user name", await sameAsName.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Contains("at least 12 characters", await tooShort.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Contains("last 5 passwords", await unchanged.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(System.Net.HttpStatusCode.Redirect, changed.StatusCode);
        var claims = Claims(token);
        Assert.Equal(("carol", "site_coordinator", "UM", TestSecrets.Issuer, "cratus-randomization"),
            (claims["sub"], claims["role"], claims["site"], claims["iss"], claims["aud"]));
        Assert.Equal(StatusCode.PermissionDenied, pharmacy.StatusCode);
        var events = (await new AuditService.AuditServiceClient(server.Channel(TrialRole.Monitor)).ListAuditEventsAsync(new ListAuditEventsRequest { PageSize = 100 })).Events;
        Assert.Contains(events, e => e is { Action: "user.created", Target: "carol", User: "alice-admin", Role: "administrator", Reason: "new staff" });
        Assert.Contains(events, e => e is { Action: "identity.password_changed", User: "carol" });
        Assert.Contains(events, e => e is { Action: "identity.signed_in", User: "carol" });
        Assert.Contains(events, e => e is { Action: "participant.randomized", User: "carol" });
    }

    [ProviderFact]
    public async Task SignIn_RepeatedWrongPasswords_LocksTheAccountEvenForTheRightOne_AndIsAudited()
    {
        await using var server = NewServer();
        var admin = await BootstrapAsync(server);
        var password = await PersonAsync(server, admin, "dave", "monitor");
        using var client = server.OpenId();

        for (var i = 0; i < 5; i++) Assert.Equal("invalid_grant", (await client.PasswordGrantAsync("dave", "wrong-password-123")).Error);
        var locked = await client.PasswordGrantAsync("dave", password);
        var unknown = await client.PasswordGrantAsync("nobody", "wrong-password-123");

        Assert.Equal(System.Net.HttpStatusCode.BadRequest, locked.Status);
        Assert.Contains("locked", locked.Get("error_description"), StringComparison.Ordinal);
        Assert.Equal("invalid_grant", unknown.Error);
        Assert.True((await admin.ListUsersAsync(new ListUsersRequest())).Users.Single(u => u.UserName == "dave").LockedOut);
        var events = (await new AuditService.AuditServiceClient(server.Channel(TrialRole.Monitor)).ListAuditEventsAsync(new ListAuditEventsRequest { PageSize = 100 })).Events;
        Assert.Equal(5, events.Count(e => e is { Action: "identity.sign_in_failed", Target: "dave" }));
        Assert.Contains(events, e => e is { Action: "identity.locked_out", Target: "dave" });
    }

    [ProviderFact]
    public async Task SignIn_WithTotpEnabled_NeedsTheAuthenticatorCode_OrARecoveryCodeOnce()
    {
        await using var server = NewServer();
        var admin = await BootstrapAsync(server);
        var password = await PersonAsync(server, admin, "erin", "statistician");
        var erin = new IdentityService.IdentityServiceClient(server.Channel(await server.SignInAsync("erin", password)));
        using var client = server.OpenId();

        var enrollment = await erin.BeginTotpEnrollmentAsync(new BeginTotpEnrollmentRequest());
        var badCode = await Assert.ThrowsAsync<RpcException>(() => erin.ConfirmTotpEnrollmentAsync(new ConfirmTotpEnrollmentRequest { Code = "000000" }).ResponseAsync);
        var confirmed = await erin.ConfirmTotpEnrollmentAsync(new ConfirmTotpEnrollmentRequest { Code = Totp(enrollment.SharedKey) });
        var withoutCode = await client.PasswordGrantAsync("erin", password);
        var withCode = await client.PasswordGrantAsync("erin", password, Totp(enrollment.SharedKey));
        var withRecoveryCode = await client.PasswordGrantAsync("erin", password, confirmed.RecoveryCodes[0]);
        var recoveryCodeAgain = await client.PasswordGrantAsync("erin", password, confirmed.RecoveryCodes[0]);

        Assert.StartsWith("otpauth://totp/", enrollment.AuthenticatorUri, StringComparison.Ordinal);
        Assert.Equal(StatusCode.InvalidArgument, badCode.StatusCode);
        Assert.Equal(10, confirmed.RecoveryCodes.Count);
        Assert.Equal("invalid_grant", withoutCode.Error);
        Assert.Contains("authenticator", withoutCode.Get("error_description"), StringComparison.Ordinal);
        Assert.Equal("statistician", Claims(withCode.AccessToken!)["role"]);
        Assert.NotNull(withRecoveryCode.AccessToken);
        Assert.Equal("invalid_grant", recoveryCodeAgain.Error);
    }

    [ProviderFact]
    public async Task RefreshToken_Rotates_AndReuseOfASpentOneRevokesTheWholeFamily()
    {
        await using var server = NewServer();
        var admin = await BootstrapAsync(server);
        var password = await PersonAsync(server, admin, "frank", "pharmacist");
        using var client = server.OpenId();
        var first = await client.PasswordGrantAsync("frank", password);
        Dictionary<string, string> Refresh(string token) => new() { ["grant_type"] = "refresh_token", ["client_id"] = OpenIdTestClient.CliClient, ["refresh_token"] = token };

        var second = await client.TokenAsync(Refresh(first.RefreshToken!));
        var reused = await client.TokenAsync(Refresh(first.RefreshToken!));
        var afterReuse = await client.TokenAsync(Refresh(second.RefreshToken!));
        var call = await Assert.ThrowsAsync<RpcException>(() => new TrialService.TrialServiceClient(server.Channel(second.AccessToken)).GetTrialAsync(new GetTrialRequest()).ResponseAsync);

        Assert.NotNull(second.AccessToken);
        Assert.NotEqual(first.RefreshToken, second.RefreshToken);
        Assert.Equal("pharmacist", Claims(second.AccessToken!)["role"]);
        Assert.Equal("invalid_grant", reused.Error);
        Assert.Equal("invalid_grant", afterReuse.Error);
        Assert.Equal(StatusCode.Unauthenticated, call.StatusCode);
        Assert.Equal("ACCOUNT_CHANGED", call.GetRpcStatus()?.GetDetail<Google.Rpc.ErrorInfo>()?.Reason);
    }

    [ProviderFact]
    public async Task ClosedAccount_ItsTokensAreRefusedOnTheNextCall_AndItCannotSignInOrRefresh()
    {
        await using var server = NewServer();
        var admin = await BootstrapAsync(server);
        var password = await PersonAsync(server, admin, "gina", "monitor");
        using var client = server.OpenId();
        var tokens = await client.PasswordGrantAsync("gina", password);
        var trial = new TrialService.TrialServiceClient(server.Channel(tokens.AccessToken));
        await trial.GetTrialAsync(new GetTrialRequest());

        await admin.UpdateUserAsync(new UpdateUserRequest { UserName = "gina", Active = false, Reason = "left the study team" });
        var call = await Assert.ThrowsAsync<RpcException>(() => trial.GetTrialAsync(new GetTrialRequest()).ResponseAsync);
        var signIn = await client.PasswordGrantAsync("gina", password);
        var refresh = await client.TokenAsync(new() { ["grant_type"] = "refresh_token", ["client_id"] = OpenIdTestClient.CliClient, ["refresh_token"] = tokens.RefreshToken! });

        Assert.Equal(StatusCode.Unauthenticated, call.StatusCode);
        Assert.Equal("ACCOUNT_CHANGED", call.GetRpcStatus()?.GetDetail<Google.Rpc.ErrorInfo>()?.Reason);
        Assert.Equal("invalid_grant", signIn.Error);
        Assert.Equal("invalid_grant", refresh.Error);
    }

    /// <summary>
    /// A change made by another node (here: written behind this node's back) reaches this node within the account
    /// check interval (30 s, at most 60 s by the issue): locked, role changed, sites changed.
    /// </summary>
    [ProviderTheory]
    [InlineData("locked")]
    [InlineData("role")]
    [InlineData("sites")]
    public async Task AccountChangedOnAnotherNode_IsRefusedWithin30Seconds(string change)
    {
        await using var server = NewServer();
        var trial = new TrialService.TrialServiceClient(server.Channel(server.Token(TrialRole.SiteCoordinator, "hank", ["UM"])));
        await trial.GetTrialAsync(new GetTrialRequest());

        await server.ExecuteSqlAsync(change switch
        {
            "locked" => """UPDATE "AspNetUsers" SET "LockoutEnd" = '2999-01-01 00:00:00+00:00' WHERE "UserName" = 'hank'""",
            "role" => """UPDATE "AspNetUsers" SET "Role" = 'monitor', "Sites" = '' WHERE "UserName" = 'hank'""",
            _ => """UPDATE "AspNetUsers" SET "Sites" = 'JH' WHERE "UserName" = 'hank'""",
        });
        await trial.GetTrialAsync(new GetTrialRequest());
        server.Clock.Advance(TimeSpan.FromSeconds(31));
        var refused = await Assert.ThrowsAsync<RpcException>(() => trial.GetTrialAsync(new GetTrialRequest()).ResponseAsync);

        Assert.Equal(StatusCode.Unauthenticated, refused.StatusCode);
        Assert.Equal(change == "locked" ? "ACCOUNT_LOCKED" : "ACCOUNT_CHANGED", refused.GetRpcStatus()?.GetDetail<Google.Rpc.ErrorInfo>()?.Reason);
    }

    [ProviderFact]
    public async Task Administration_SitesAndUserRules_AreEnforced()
    {
        await using var server = NewServer();
        var admin = await BootstrapAsync(server);

        var site = await admin.CreateSiteAsync(new CreateSiteRequest { Code = "JH", Name = "Second site", Reason = "site initiation visit done" });
        var siteRoleWithoutSite = await Assert.ThrowsAsync<RpcException>(() => admin.CreateUserAsync(new CreateUserRequest { UserName = "h", FullName = "Full h", Role = "investigator", Reason = "x" }).ResponseAsync);
        var unknownRole = await Assert.ThrowsAsync<RpcException>(() => admin.CreateUserAsync(new CreateUserRequest { UserName = "h", FullName = "Full h", Role = "superuser", Reason = "x" }).ResponseAsync);
        await CreateUserAsync(admin, "ivan", "investigator", "JH");
        await admin.UpdateUserAsync(new UpdateUserRequest { UserName = "ivan", FullName = "Ivan Ivanov", Reason = "name as on the delegation log" });
        var renamed = (await admin.ListUsersAsync(new ListUsersRequest())).Users.Single(u => u.UserName == "ivan");
        var duplicate = await Assert.ThrowsAsync<RpcException>(() => admin.CreateUserAsync(new CreateUserRequest { UserName = "ivan", FullName = "Full ivan", Role = "monitor", Reason = "x" }).ResponseAsync);
        await server.Statistician().GenerateScheduleAsync(new GenerateScheduleRequest { Reason = "initial" });
        var afterSchedule = await Assert.ThrowsAsync<RpcException>(() => admin.CreateSiteAsync(new CreateSiteRequest { Code = "XX", Name = "Late", Reason = "x" }).ResponseAsync);
        await admin.UpdateSiteAsync(new UpdateSiteRequest { Code = "JH", Active = false, Reason = "site closed" });
        var closedSite = await Assert.ThrowsAsync<RpcException>(() => server.Site("JH").RandomizeAsync(Requests.Randomize("SCR-1", site: "JH")).ResponseAsync);

        Assert.True(site.Site.Active);
        Assert.Equal(StatusCode.InvalidArgument, siteRoleWithoutSite.StatusCode);
        Assert.Equal(StatusCode.InvalidArgument, unknownRole.StatusCode);
        Assert.Equal(StatusCode.AlreadyExists, duplicate.StatusCode);
        Assert.Equal("Ivan Ivanov", renamed.FullName);
        Assert.Equal(StatusCode.FailedPrecondition, afterSchedule.StatusCode);
        Assert.Equal(StatusCode.FailedPrecondition, closedSite.StatusCode);
        var commitment = await server.Trial().GetScheduleCommitmentAsync(new GetScheduleCommitmentRequest());
        Assert.NotEmpty(commitment.Sha256Hex);
    }

    public static TheoryData<string, string, string> DevelopmentOnlySettings => new()
    {
        { "Identity:SeedDemoUsers", "true", "Development only" },
        { "Encryption:Keys:k1", DevelopmentSecrets.EncryptionKey, "development or sample key" },
        { "Identity:BootstrapSecret", DevelopmentSecrets.BootstrapSecret, "development or sample secret" },
        { "Token:SigningKeys:0", "sample-signing-key-REPLACE-with-a-base64-PKCS8-RSA-key", "Token:SigningKeys holds a key that does not parse" },
        { "Token:SigningKeys:0", "", "Token:SigningKeys is empty" },
        { "Token:AllowPasswordGrant", "true", "refused in Production" },
        { "Token:Issuer", "http://cratus.example.org/", "must be an https address" },
        { "Encryption:Keys:k1", DevelopmentSecrets.SampleEncryptionKey, "development or sample key" },
        { "Identity:BootstrapSecret", DevelopmentSecrets.SampleBootstrapSecret, "development or sample secret" },
        { "Audit:HeadSigningKey", DevelopmentSecrets.HeadSigningKey, "development or sample key" },
        { "Audit:HeadSigningKey", DevelopmentSecrets.SampleHeadSigningKey, "development or sample key" },
        { "Audit:HeadSigningKey", "", "Audit:HeadSigningKey (an ECDSA P-256 private key" },
        { "Database:ConnectionString", $"Host=db;Password={DevelopmentSecrets.SampleDatabasePassword}", "sample password" },
        { "Database:ConnectionString", $"Server=sqlserver;Database=cratus;User ID=sa;Password={DevelopmentSecrets.SampleSqlServerPassword};TrustServerCertificate=True", "sample password" },
        { "Database:ConnectionString", $"Server=sqlserver;Database=cratus;UID=sa;PWD={DevelopmentSecrets.SampleSqlServerPassword}", "sample password" },
    };

    /// <summary>Every value of .env.example is one the server refuses outside Development.</summary>
    [ProviderFact]
    public void EnvExample_EverySampleSecret_IsOneTheServerRefuses()
    {
        var example = File.ReadAllLines(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "..", ".env.example"))
            .Where(l => l.Contains('=', StringComparison.Ordinal) && !l.StartsWith('#'))
            .ToDictionary(l => l[..l.IndexOf('=', StringComparison.Ordinal)], l => l[(l.IndexOf('=', StringComparison.Ordinal) + 1)..]);

        Assert.False(Identity.SigningKeys.AllParse(new TokenOptions { SigningKeys = [example["CRATUS_SIGNING_KEY"]] }));
        Assert.Contains(example["CRATUS_SEALING_KEY"], DevelopmentSecrets.EncryptionKeys);
        Assert.Contains(example["CRATUS_BOOTSTRAP_SECRET"], DevelopmentSecrets.BootstrapSecrets);
        Assert.Contains(example["POSTGRES_PASSWORD"], DevelopmentSecrets.Passwords);
        Assert.Contains(example["MSSQL_SA_PASSWORD"], DevelopmentSecrets.Passwords);
        Assert.Contains(example["CRATUS_HEAD_SIGNING_KEY"], DevelopmentSecrets.HeadSigningKeys);
    }

    [ProviderTheory]
    [MemberData(nameof(DevelopmentOnlySettings))]
    public void Start_OutsideDevelopmentWithARepositorySecret_Refuses(string key, string value, string expected)
    {
        var folder = Path.Combine(Path.GetTempPath(), "cratus-tests", Guid.NewGuid().ToString("N"));
        using var factory = new WebApplicationFactory<Program>().WithWebHostBuilder(builder =>
        {
            builder.UseEnvironment("Production");
            builder.UseSetting("Database:SqlitePath", Path.Combine(folder, "cratus.db"));
            builder.UseSetting("Logging:FilePath", Path.Combine(folder, "logs", "cratus-.json"));
            builder.UseSetting("Token:SigningKeys:0", TestSecrets.NewSigningKey());
            builder.UseSetting("Token:Issuer", "https://cratus.example.org/");
            builder.UseSetting("Encryption:ActiveKeyId", "k1");
            builder.UseSetting("Encryption:Keys:k1", Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)));
            builder.UseSetting("Identity:DemoPassword", DevelopmentSecrets.DemoPassword);
            builder.UseSetting("Audit:HeadSigningKey", TrialServer.NewHeadSigningKey());
            if (key == "Database:ConnectionString") builder.UseSetting("Database:Provider", "PostgreSql");
            builder.UseSetting(key, value);
        });

        var error = Assert.ThrowsAny<Exception>(() => factory.Server);

        Assert.Contains(expected, error.ToString(), StringComparison.Ordinal);
    }

    /// <summary>RFC 6238 (SHA-1, 30-second steps, 6 digits), as authenticator apps compute it.</summary>
    internal static string Totp(string base32Key)
    {
        var key = Base32(base32Key);
        Span<byte> counter = stackalloc byte[8];
        BinaryPrimitives.WriteInt64BigEndian(counter, DateTimeOffset.UtcNow.ToUnixTimeSeconds() / 30);
#pragma warning disable CA5350 // RFC 6238 authenticator codes are defined over HMAC-SHA1.
        var hash = HMACSHA1.HashData(key, counter);
#pragma warning restore CA5350
        var offset = hash[^1] & 0x0f;
        var binary = ((hash[offset] & 0x7f) << 24) | (hash[offset + 1] << 16) | (hash[offset + 2] << 8) | hash[offset + 3];
        return (binary % 1_000_000).ToString("D6", System.Globalization.CultureInfo.InvariantCulture);
    }

    private static byte[] Base32(string text)
    {
        const string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        var bits = 0;
        var value = 0;
        var output = new List<byte>();
        foreach (var c in text.TrimEnd('=').ToUpperInvariant().Where(c => c != ' '))
        {
            value = (value << 5) | alphabet.IndexOf(c, StringComparison.Ordinal);
            bits += 5;
            if (bits >= 8)
            {
                output.Add((byte)(value >> (bits - 8)));
                bits -= 8;
            }
        }
        return [.. output];
    }
}

public sealed class IdentityTestsOnSqlite : IdentityTests
{
    protected override TestDatabase Database => TestDatabase.Sqlite;
}

public sealed class IdentityTestsOnPostgreSql : IdentityTests, IRunsOnPostgreSql
{
    protected override TestDatabase Database => TestDatabase.PostgreSql;
}

public sealed class IdentityTestsOnSqlServer : IdentityTests, IRunsOnSqlServer
{
    protected override TestDatabase Database => TestDatabase.SqlServer;
}
