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
        var login = await Anonymous(server).LoginAsync(new LoginRequest { UserName = "alice-admin", Password = AdminPassword });
        return new AdministrationService.AdministrationServiceClient(server.Channel(login.Tokens.AccessToken));
    }

    private static async Task<string> CreateUserAsync(AdministrationService.AdministrationServiceClient admin, string name, string role, params string[] sites) =>
        (await admin.CreateUserAsync(new CreateUserRequest { UserName = name, FullName = $"Full {name}", Role = role, Sites = { sites }, Reason = "new staff" })).InitialPassword;

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
    public async Task Login_UserCreatedByTheAdministrator_GetsATokenWithTheirRoleAndSites()
    {
        await using var server = NewServer();
        var admin = await BootstrapAsync(server);
        var password = await CreateUserAsync(admin, "carol", "site_coordinator", "UM");
        await server.Statistician().GenerateScheduleAsync(new GenerateScheduleRequest { Reason = "initial" });

        var login = await Anonymous(server).LoginAsync(new LoginRequest { UserName = "carol", Password = password });
        var carol = server.Channel(login.Tokens.AccessToken);
        var randomized = await new RandomizationService.RandomizationServiceClient(carol).RandomizeAsync(Requests.Randomize("SCR-1"));
        var pharmacy = await Assert.ThrowsAsync<RpcException>(() => new PharmacyService.PharmacyServiceClient(carol)
            .GetDoseOrderAsync(new GetDoseOrderRequest { ParticipantId = randomized.Assignment.ParticipantId }).ResponseAsync);

        Assert.Equal("site_coordinator", login.Tokens.Role);
        Assert.Equal(["UM"], login.Tokens.Sites);
        Assert.Equal(StatusCode.PermissionDenied, pharmacy.StatusCode);
        var events = (await new AuditService.AuditServiceClient(server.Channel(TrialRole.Monitor)).ListAuditEventsAsync(new ListAuditEventsRequest { PageSize = 100 })).Events;
        Assert.Contains(events, e => e is { Action: "user.created", Target: "carol", User: "alice-admin", Role: "administrator", Reason: "new staff" });
        Assert.Contains(events, e => e is { Action: "participant.randomized", User: "carol" });
    }

    [ProviderFact]
    public async Task Login_RepeatedWrongPasswords_LocksTheAccountEvenForTheRightOne()
    {
        await using var server = NewServer();
        var admin = await BootstrapAsync(server);
        var password = await CreateUserAsync(admin, "dave", "monitor");

        for (var i = 0; i < 5; i++)
        {
            var wrong = await Assert.ThrowsAsync<RpcException>(() => Anonymous(server).LoginAsync(new LoginRequest { UserName = "dave", Password = "wrong-password-123" }).ResponseAsync);
            Assert.Equal(StatusCode.Unauthenticated, wrong.StatusCode);
        }
        var locked = await Assert.ThrowsAsync<RpcException>(() => Anonymous(server).LoginAsync(new LoginRequest { UserName = "dave", Password = password }).ResponseAsync);
        var unknown = await Assert.ThrowsAsync<RpcException>(() => Anonymous(server).LoginAsync(new LoginRequest { UserName = "nobody", Password = "wrong-password-123" }).ResponseAsync);

        Assert.Contains("locked", locked.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(StatusCode.Unauthenticated, unknown.StatusCode);
        var users = await admin.ListUsersAsync(new ListUsersRequest());
        Assert.True(users.Users.Single(u => u.UserName == "dave").LockedOut);
    }

    [ProviderFact]
    public async Task Login_WithTotpEnabled_NeedsTheAuthenticatorCode()
    {
        await using var server = NewServer();
        var admin = await BootstrapAsync(server);
        var password = await CreateUserAsync(admin, "erin", "statistician");
        var first = await Anonymous(server).LoginAsync(new LoginRequest { UserName = "erin", Password = password });
        var erin = new IdentityService.IdentityServiceClient(server.Channel(first.Tokens.AccessToken));

        var enrollment = await erin.BeginTotpEnrollmentAsync(new BeginTotpEnrollmentRequest());
        var badCode = await Assert.ThrowsAsync<RpcException>(() => erin.ConfirmTotpEnrollmentAsync(new ConfirmTotpEnrollmentRequest { Code = "000000" }).ResponseAsync);
        await erin.ConfirmTotpEnrollmentAsync(new ConfirmTotpEnrollmentRequest { Code = Totp(enrollment.SharedKey) });
        var withoutCode = await Assert.ThrowsAsync<RpcException>(() => Anonymous(server).LoginAsync(new LoginRequest { UserName = "erin", Password = password }).ResponseAsync);
        var withCode = await Anonymous(server).LoginAsync(new LoginRequest { UserName = "erin", Password = password, TotpCode = Totp(enrollment.SharedKey) });

        Assert.StartsWith("otpauth://totp/", enrollment.AuthenticatorUri, StringComparison.Ordinal);
        Assert.Equal(StatusCode.InvalidArgument, badCode.StatusCode);
        Assert.Equal(StatusCode.Unauthenticated, withoutCode.StatusCode);
        Assert.Contains("authenticator", withoutCode.Status.Detail, StringComparison.Ordinal);
        Assert.Equal("statistician", withCode.Tokens.Role);
    }

    [ProviderFact]
    public async Task RefreshToken_UsedOnce_AndReuseRevokesEveryRefreshTokenOfTheUser()
    {
        await using var server = NewServer();
        var admin = await BootstrapAsync(server);
        var password = await CreateUserAsync(admin, "frank", "pharmacist");
        var login = await Anonymous(server).LoginAsync(new LoginRequest { UserName = "frank", Password = password });

        var refreshed = await Anonymous(server).RefreshTokenAsync(new RefreshTokenRequest { RefreshToken = login.Tokens.RefreshToken });
        var reused = await Assert.ThrowsAsync<RpcException>(() => Anonymous(server).RefreshTokenAsync(new RefreshTokenRequest { RefreshToken = login.Tokens.RefreshToken }).ResponseAsync);
        var afterReuse = await Assert.ThrowsAsync<RpcException>(() => Anonymous(server).RefreshTokenAsync(new RefreshTokenRequest { RefreshToken = refreshed.Tokens.RefreshToken }).ResponseAsync);

        Assert.NotEqual(login.Tokens.RefreshToken, refreshed.Tokens.RefreshToken);
        Assert.Equal("pharmacist", refreshed.Tokens.Role);
        Assert.Equal(StatusCode.Unauthenticated, reused.StatusCode);
        Assert.Equal(StatusCode.Unauthenticated, afterReuse.StatusCode);
    }

    [ProviderFact]
    public async Task UpdateUser_ClosedAccount_CannotSignInOrRefresh()
    {
        await using var server = NewServer();
        var admin = await BootstrapAsync(server);
        var password = await CreateUserAsync(admin, "gina", "monitor");
        var login = await Anonymous(server).LoginAsync(new LoginRequest { UserName = "gina", Password = password });

        await admin.UpdateUserAsync(new UpdateUserRequest { UserName = "gina", Active = false, Reason = "left the study team" });
        var signIn = await Assert.ThrowsAsync<RpcException>(() => Anonymous(server).LoginAsync(new LoginRequest { UserName = "gina", Password = password }).ResponseAsync);
        var refresh = await Assert.ThrowsAsync<RpcException>(() => Anonymous(server).RefreshTokenAsync(new RefreshTokenRequest { RefreshToken = login.Tokens.RefreshToken }).ResponseAsync);

        Assert.Equal(StatusCode.Unauthenticated, signIn.StatusCode);
        Assert.Equal(StatusCode.Unauthenticated, refresh.StatusCode);
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
        var duplicate = await Assert.ThrowsAsync<RpcException>(() => admin.CreateUserAsync(new CreateUserRequest { UserName = "ivan", FullName = "Full ivan", Role = "monitor", Reason = "x" }).ResponseAsync);
        await server.Statistician().GenerateScheduleAsync(new GenerateScheduleRequest { Reason = "initial" });
        var afterSchedule = await Assert.ThrowsAsync<RpcException>(() => admin.CreateSiteAsync(new CreateSiteRequest { Code = "XX", Name = "Late", Reason = "x" }).ResponseAsync);
        await admin.UpdateSiteAsync(new UpdateSiteRequest { Code = "JH", Active = false, Reason = "site closed" });
        var closedSite = await Assert.ThrowsAsync<RpcException>(() => server.Site("JH").RandomizeAsync(Requests.Randomize("SCR-1", site: "JH")).ResponseAsync);

        Assert.True(site.Site.Active);
        Assert.Equal(StatusCode.InvalidArgument, siteRoleWithoutSite.StatusCode);
        Assert.Equal(StatusCode.InvalidArgument, unknownRole.StatusCode);
        Assert.Equal(StatusCode.AlreadyExists, duplicate.StatusCode);
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
        { "Token:SigningKey", DevelopmentSecrets.SampleSigningKey, "development or sample key" },
        { "Encryption:Keys:k1", DevelopmentSecrets.SampleEncryptionKey, "development or sample key" },
        { "Identity:BootstrapSecret", DevelopmentSecrets.SampleBootstrapSecret, "development or sample secret" },
        { "Audit:HeadSigningKey", DevelopmentSecrets.HeadSigningKey, "development or sample key" },
        { "Audit:HeadSigningKey", DevelopmentSecrets.SampleHeadSigningKey, "development or sample key" },
        { "Audit:HeadSigningKey", "", "Audit:HeadSigningKey (an ECDSA P-256 private key" },
        { "Database:ConnectionString", $"Host=db;Password={DevelopmentSecrets.SampleDatabasePassword}", "sample password" },
    };

    /// <summary>Every value of .env.example is one the server refuses outside Development.</summary>
    [ProviderFact]
    public void EnvExample_EverySampleSecret_IsOneTheServerRefuses()
    {
        var example = File.ReadAllLines(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "..", ".env.example"))
            .Where(l => l.Contains('=', StringComparison.Ordinal) && !l.StartsWith('#'))
            .ToDictionary(l => l[..l.IndexOf('=', StringComparison.Ordinal)], l => l[(l.IndexOf('=', StringComparison.Ordinal) + 1)..]);

        Assert.Contains(example["CRATUS_SIGNING_KEY"], DevelopmentSecrets.SigningKeys);
        Assert.Contains(example["CRATUS_SEALING_KEY"], DevelopmentSecrets.EncryptionKeys);
        Assert.Contains(example["CRATUS_BOOTSTRAP_SECRET"], DevelopmentSecrets.BootstrapSecrets);
        Assert.Contains(example["POSTGRES_PASSWORD"], DevelopmentSecrets.Passwords);
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
            builder.UseSetting("Token:SigningKey", Convert.ToBase64String(RandomNumberGenerator.GetBytes(48)));
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
