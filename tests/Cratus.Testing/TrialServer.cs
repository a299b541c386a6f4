using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Security;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Time.Testing;

namespace Cratus.Testing;

/// <summary>
/// The real server in process, on a real SQLite file in a temporary folder (or a PostgreSQL database of its own), with
/// its own keys (<see cref="TestSecrets"/>) and a fake clock: in memory (TestServer), or with <c>onLoopback</c> over real
/// HTTP/2 on 127.0.0.1 (Kestrel). Clients are the generated gRPC clients over a real channel, each carrying a signed
/// token: <c>server.As(TrialRole.Pharmacist).Pharmacy</c>.
/// </summary>
public sealed class TrialServer : IAsyncDisposable
{
    public const string Issuer = TestSecrets.Issuer;
    public const string Audience = TestSecrets.Audience;
    public static readonly DateTimeOffset Now = new(2026, 11, 22, 15, 0, 0, TimeSpan.Zero);

    private readonly WebApplicationFactory<Program> _factory;
    private readonly bool _ownsDatabase;

    public string Folder { get; }
    public TestDatabase Database { get; }

    /// <summary>SQLite: the file's path. PostgreSQL: the connection string of this server's own database.</summary>
    public string DatabaseLocation { get; }
    public string LogFolder => Path.Combine(Folder, "logs");
    public TestSecrets Secrets { get; } = new();
    public string SigningKey => Secrets.SigningKey;
    public string EncryptionKey => Secrets.EncryptionKey;
    public string BootstrapSecret => Secrets.BootstrapSecret;
    /// <summary>The audit head signing key (ECDSA P-256, base64 PKCS#8), generated for this server.</summary>
    public string HeadSigningKey => Secrets.HeadSigningKey;

    public static string NewHeadSigningKey() => TestSecrets.NewHeadSigningKey();
    public FakeTimeProvider Clock { get; } = new(Now);

    /// <summary>The server's gRPC address when it listens on loopback (Kestrel); null for the in-memory TestServer.</summary>
    public string? Address { get; }

    /// <summary>The address of its web endpoint (OpenID Connect server, pages) on loopback; null in memory.</summary>
    public string? WebAddress { get; }

    /// <summary>The value of the Token:Issuer setting that makes the issuer this server's own web address (for browsers).</summary>
    public const string IssuerAtWebAddress = "(web address)";

    /// <summary>The issuer this server's tokens name.</summary>
    public string TokenIssuer { get; }

    /// <summary>The audience this server accepts: Token:Audience, with "/uat" or "/training" in those trial modes.</summary>
    public string TokenAudience { get; }

    /// <summary>
    /// The setting that runs the server on its own trial clock (the real time, moved only by AdvanceTrialClock in UAT
    /// and training) instead of the test's <see cref="Clock"/>: <c>settings[TrialServer.ClockSetting] = TrialServer.RealTrialClock</c>.
    /// Tokens are then valid on the real time.
    /// </summary>
    public const string ClockSetting = "Testing:Clock";
    public const string RealTrialClock = "trial";

    /// <summary>Whether the server runs on its own trial clock rather than <see cref="Clock"/>.</summary>
    public bool OnTrialClock { get; }

    /// <summary>An HTTP client of the OpenID Connect server and its pages, keeping cookies as a browser does.</summary>
    public OpenIdTestClient OpenId() => new(WebAddress is not null
        ? new HttpClient(new HttpClientHandler { AllowAutoRedirect = false, UseCookies = true }) { BaseAddress = new Uri(WebAddress + "/") }
        : _factory.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = true, BaseAddress = new Uri(Issuer) }));

    /// <summary>A person's access token from the password grant (enabled in tests).</summary>
    public async Task<string> SignInAsync(string userName, string password, string? totp = null)
    {
        using var client = OpenId();
        return await client.PasswordAsync(userName, password, totp);
    }

    /// <summary>The shipped definition opens Phase II only after Phase I; tests of Phase II alone lift that gate.</summary>
    public static readonly (string, string) WithoutPhaseOneGate = ("\"requiresDoseEscalationFirst\": true", "\"requiresDoseEscalationFirst\": false");

    /// <param name="database">The provider; with <c>settings["Database:Reuse"]</c> the location of an existing database.</param>
    /// <param name="onLoopback">Serve over real HTTP/2 on 127.0.0.1 (a free port) instead of in memory.</param>
    /// <param name="settings">Configuration settings to add or override.</param>
    /// <param name="definitionEdits">Text replacements applied to the shipped CRATUS definition. Unless the first is
    /// ("", "") (see <see cref="OnEachDatabase"/>), the Phase I gate is lifted first, for tests of Phase II alone.</param>
    public TrialServer(TestDatabase database, bool onLoopback, IReadOnlyDictionary<string, string>? settings = null, params (string From, string To)[] definitionEdits)
        : this(database, onLoopback, settings, configureServices: null, definitionEdits)
    {
    }

    /// <param name="configureServices">Additions to the server's services, after its own (an in-memory exporter of its telemetry).</param>
    public TrialServer(TestDatabase database, bool onLoopback, IReadOnlyDictionary<string, string>? settings, Action<IServiceCollection>? configureServices,
        params (string From, string To)[] definitionEdits)
    {
        Folder = Path.Combine(Path.GetTempPath(), "cratus-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Folder);
        Database = database;
        settings ??= new Dictionary<string, string>();
        DatabaseLocation = settings.TryGetValue("Database:Reuse", out var reuse) ? reuse
            : database == TestDatabase.Sqlite ? Path.Combine(Folder, "cratus.db")
            : database == TestDatabase.SqlServer ? Task.Run(TestDatabases.CreateSqlServerDatabaseAsync).GetAwaiter().GetResult()
            : Task.Run(TestDatabases.CreateMigratedPostgreSqlDatabaseAsync).GetAwaiter().GetResult(); // off xUnit's two-thread context
        _ownsDatabase = !settings.ContainsKey("Database:Reuse");
        definitionEdits = definitionEdits is [("", ""), .. var rest] ? rest : [WithoutPhaseOneGate, .. definitionEdits];

        var configuration = Secrets.Settings();
        configuration["Database:Provider"] = database.ToString();
        configuration[database == TestDatabase.Sqlite ? "Database:SqlitePath" : "Database:ConnectionString"] = DatabaseLocation;
        configuration["Trial:DefinitionPath"] = TestSecrets.WriteDefinition(Path.Combine(Folder, "trial.json"), "cratus.json", definitionEdits);
        configuration["Logging:FilePath"] = Path.Combine(LogFolder, "cratus-.json");
        foreach (var (key, value) in settings) configuration[key] = value;
        configuration["Kestrel:Endpoints:Grpc:Url"] = "http://127.0.0.1:0";
        if (onLoopback) WebAddress = $"http://127.0.0.1:{Loopback.FreePort()}";
        configuration["Kestrel:Endpoints:Web:Url"] = WebAddress ?? "http://127.0.0.1:0";
        if (configuration["Token:Issuer"] == IssuerAtWebAddress)
        {
            // A browser follows the issuer's addresses: the sign-in server is this server's own web endpoint.
            configuration["Token:Issuer"] = (WebAddress ?? throw new ArgumentException("a browser needs the server on loopback")) + "/";
            configuration["Token:WebRedirectUris:0"] = WebAddress + "/signin-oidc";
        }
        TokenIssuer = configuration["Token:Issuer"]!;
        TokenAudience = Cratus.Randomization.Server.Rehearsal.TrialModes.Audience(configuration["Token:Audience"]!,
            Enum.TryParse<Cratus.Randomization.Domain.TrialMode>(configuration.GetValueOrDefault("Trial:Mode"), ignoreCase: true, out var mode) ? mode : default);
        OnTrialClock = configuration.GetValueOrDefault(ClockSetting) == RealTrialClock;
        _factory = new WebApplicationFactory<Program>().WithWebHostBuilder(builder =>
        {
            builder.UseEnvironment("Testing");
            foreach (var (key, value) in configuration) builder.UseSetting(key, value);
            if (!OnTrialClock) builder.ConfigureServices(services => services.Replace(ServiceDescriptor.Singleton<TimeProvider>(Clock)));
            if (configureServices is not null) builder.ConfigureServices(configureServices);
        });
        if (onLoopback)
        {
            _factory.UseKestrel();
            _factory.StartServer();
            // The gRPC endpoint's port is chosen by the system: it is the address that no setting names (web, management).
            var named = configuration.Where(c => c.Key.StartsWith("Kestrel:Endpoints:", StringComparison.Ordinal) && c.Key.EndsWith(":Url", StringComparison.Ordinal))
                .Select(c => c.Value.TrimEnd('/')).ToHashSet();
            Address = _factory.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses
                .Single(a => a.TrimEnd('/') != WebAddress && !named.Contains(a.TrimEnd('/')));
        }
        else
        {
            _ = _factory.Server; // start now, so migrations have run before the first call
        }
    }

    /// <summary>A token signed with this server's key, valid now on its clock, for an account that is made to exist with
    /// this role and these sites (default subject: one per role and sites, so that no two tests' tokens share one).</summary>
    public string Token(TrialRole role, string? subject = null, IEnumerable<string>? sites = null, TimeSpan? lifetime = null,
        string? issuer = null, string? audience = null, string? signingKey = null)
    {
        issuer ??= TokenIssuer;
        audience ??= TokenAudience;
        var siteList = (sites ?? []).ToList();
        subject ??= DefaultSubject(role, siteList);
        EnsureAccount(role, subject, siteList);
        return Secrets.Token(role, subject, siteList, OnTrialClock ? DateTimeOffset.UtcNow : Clock.GetUtcNow(), lifetime, issuer, audience, signingKey);
    }

    internal static string DefaultSubject(TrialRole role, IReadOnlyList<string> sites) =>
        sites.Count == 0 ? $"{role}-user" : $"{role}-{string.Join('-', sites)}";

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, string> _accounts = new();

    /// <summary>Makes <paramref name="subject"/> an account in <paramref name="role"/> at <paramref name="sites"/>.</summary>
    public void EnsureAccount(TrialRole role, string subject, IEnumerable<string> sites)
    {
        var shape = TrialRoles.ClaimValue(role) + "|" + string.Join(',', sites);
        if (_accounts.TryGetValue(subject, out var known) && known == shape) return;
        Task.Run(() => ExecuteSqlAsync(TestSecrets.AccountSql(role, subject, sites, Database))).GetAwaiter().GetResult();
        _accounts[subject] = shape;
    }

    /// <summary>The clients of every service as a user in <paramref name="role"/> (at <paramref name="sites"/>).</summary>
    public TrialClients As(TrialRole role, params string[] sites) => new(Channel(role, sites));

    /// <summary>The clients of every service as the bearer of <paramref name="token"/> (none if null).</summary>
    public TrialClients As(string? token) => new(Channel(token));

    /// <summary>
    /// A channel as a well-behaved client uses it: every write it sends without a request id gets a new UUID, and a
    /// signed action sent without a signature is signed as the token's user (<see cref="Signing.AutoSigner"/>).
    /// </summary>
    public CallInvoker Channel(string? token)
    {
        var raw = RawChannel(token);
        return RequestIds.Fill(raw).Intercept(new Signing.AutoSigner(token, raw.CreateCallInvoker()));
    }

    /// <summary>A channel that sends requests exactly as given, for tests of what the server does with them.</summary>
    public GrpcChannel RawChannel(string? token) => Address is not null
        ? Loopback.Channel(Address, token)
        : GrpcChannel.ForAddress(_factory.Server.BaseAddress, new GrpcChannelOptions { HttpHandler = Loopback.WithBearer(token, _factory.Server.CreateHandler()) });

    public CallInvoker Channel(TrialRole role, params string[] sites) => Channel(Token(role, sites: sites));

    public RandomizationService.RandomizationServiceClient Site(string site = "UM", TrialRole role = TrialRole.SiteCoordinator) =>
        As(role, site).Randomization;

    public PharmacyService.PharmacyServiceClient Pharmacy() => As(TrialRole.Pharmacist).Pharmacy;

    public ScheduleService.ScheduleServiceClient Statistician(string subject = "statistician-1") =>
        As(Token(TrialRole.Statistician, subject)).Schedule;

    public TrialService.TrialServiceClient Trial(TrialRole role = TrialRole.Monitor) => As(role).Trial;

    public IServiceProvider Services => _factory.Services;

    /// <summary>Runs SQL straight on the database, behind the service's back (as a person with database access could).
    /// Write identifiers in double quotes: both SQLite and PostgreSQL read them so.</summary>
    public async Task<int> ExecuteSqlAsync(string sql)
    {
        await using var connection = OpenConnection();
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        return await command.ExecuteNonQueryAsync();
    }

    public async Task<List<object?[]>> QueryAsync(string sql)
    {
        await using var connection = OpenConnection();
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<object?[]>();
        while (await reader.ReadAsync())
        {
            var row = new object?[reader.FieldCount];
            reader.GetValues(row!);
            rows.Add([.. row.Select(v => v is DBNull ? null : v)]);
        }
        return rows;
    }

    // Unpooled: a connection the test opened must not outlive an outage the test makes.
    private System.Data.Common.DbConnection OpenConnection() => TestDatabases.Connection(Database, DatabaseLocation);

    /// <summary>Stops the server but keeps its database, for a restart on the same data.</summary>
    public async Task StopAsync()
    {
        await _factory.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Npgsql.NpgsqlConnection.ClearAllPools();
        Microsoft.Data.SqlClient.SqlConnection.ClearAllPools();
    }

    public async ValueTask DisposeAsync()
    {
        await _factory.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (Database != TestDatabase.Sqlite && _ownsDatabase) await TestDatabases.DropDatabaseAsync(Database, DatabaseLocation);
        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (IOException)
        {
            // A log file still held open; the temporary folder is cleaned by the OS.
        }
    }
}

/// <summary>What a client does for every write (AIP-155): a request id it chooses, here a new UUID when none is set.</summary>
public static class RequestIds
{
    public static CallInvoker Fill(GrpcChannel channel) => channel.Intercept(new Filler());

    private sealed class Filler : Interceptor
    {
        public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(
            TRequest request, ClientInterceptorContext<TRequest, TResponse> context, AsyncUnaryCallContinuation<TRequest, TResponse> continuation)
        {
            if (request is Google.Protobuf.IMessage message && message.Descriptor.FindFieldByName("request_id") is { } field
                && string.IsNullOrEmpty((string)field.Accessor.GetValue(message)))
            {
                field.Accessor.SetValue(message, Guid.NewGuid().ToString());
            }
            return continuation(request, context);
        }
    }
}

/// <summary>Builders for requests that tests vary one field at a time.</summary>
public static class Requests
{
    public static EligibilityData Eligible(Sex sex = Sex.Female) => new()
    {
        ConsentDate = new CalendarDate { Year = 2026, Month = 11, Day = 20 },
        DateOfBirth = new CalendarDate { Year = 1950, Month = 3, Day = 14 },
        Sex = sex,
        ClinicalFrailtyScale = 5,
        MmseScore = 28,
        ExclusionAttestations =
        {
            new ExclusionAttestation { CriterionCode = "cannot-perform-assessments", Applies = false },
            new ExclusionAttestation { CriterionCode = "serious-comorbidity", Applies = false },
            new ExclusionAttestation { CriterionCode = "life-expectancy-under-1-year", Applies = false },
            new ExclusionAttestation { CriterionCode = "recent-malignancy", Applies = false },
        },
    };

    public static RandomizeRequest Randomize(string screeningId, Sex sex = Sex.Female, string site = "UM", string? requestId = null) => new()
    {
        RequestId = requestId ?? Guid.NewGuid().ToString(),
        SiteCode = site,
        ScreeningId = screeningId,
        Eligibility = Eligible(sex),
    };
}
