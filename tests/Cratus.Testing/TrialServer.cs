using System.Net.Http.Headers;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
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
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Cratus.Testing;

/// <summary>
/// The real server in process (TestServer), on a real SQLite file in a temporary folder, with its own signing key
/// and a fake clock. Clients are the generated gRPC clients over a real channel, each carrying a signed token.
/// </summary>
public sealed class TrialServer : IAsyncDisposable
{
    public const string Issuer = "cratus-tests";
    public const string Audience = "cratus-randomization";
    public static readonly DateTimeOffset Now = new(2026, 11, 22, 15, 0, 0, TimeSpan.Zero);

    private readonly WebApplicationFactory<Program> _factory;
    private readonly bool _ownsDatabase;

    public string Folder { get; }
    public TestDatabase Database { get; }

    /// <summary>SQLite: the file's path. PostgreSQL: the connection string of this server's own database.</summary>
    public string DatabaseLocation { get; }
    public string LogFolder => Path.Combine(Folder, "logs");
    public string SigningKey { get; } = Convert.ToBase64String(RandomNumberGenerator.GetBytes(48));
    public string EncryptionKey { get; } = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
    public string BootstrapSecret { get; } = Convert.ToHexString(RandomNumberGenerator.GetBytes(16));
    /// <summary>The audit head signing key (ECDSA P-256, base64 PKCS#8), generated for this server.</summary>
    public string HeadSigningKey { get; } = NewHeadSigningKey();

    public static string NewHeadSigningKey()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        return Convert.ToBase64String(key.ExportPkcs8PrivateKey());
    }
    public FakeTimeProvider Clock { get; } = new(Now);

    /// <summary>The server's address when it listens on loopback (Kestrel); null for the in-memory TestServer.</summary>
    public string? Address { get; }

    /// <summary>The shipped definition opens Phase II only after Phase I; tests of Phase II alone lift that gate.</summary>
    public static readonly (string, string) WithoutPhaseOneGate = ("\"requiresDoseEscalationFirst\": true", "\"requiresDoseEscalationFirst\": false");

    /// <param name="database">The provider; with <c>settings["Database:Reuse"]</c> the location of an existing database.</param>
    /// <param name="onLoopback">Serve over real HTTP/2 on 127.0.0.1 (a free port) instead of in memory.</param>
    /// <param name="settings">Configuration settings to add or override.</param>
    /// <param name="definitionEdits">Text replacements applied to the shipped CRATUS definition. Unless the first is
    /// ("", "") (see <see cref="OnEachDatabase"/>), the Phase I gate is lifted first, for tests of Phase II alone.</param>
    public TrialServer(TestDatabase database, bool onLoopback, IReadOnlyDictionary<string, string>? settings = null, params (string From, string To)[] definitionEdits)
    {
        Folder = Path.Combine(Path.GetTempPath(), "cratus-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Folder);
        Database = database;
        settings ??= new Dictionary<string, string>();
        DatabaseLocation = settings.TryGetValue("Database:Reuse", out var reuse) ? reuse
            : database == TestDatabase.Sqlite ? Path.Combine(Folder, "cratus.db")
            : TestDatabases.CreatePostgreSqlDatabaseAsync().GetAwaiter().GetResult();
        _ownsDatabase = !settings.ContainsKey("Database:Reuse");
        var definition = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "trial-definitions", "cratus.json"));
        definitionEdits = definitionEdits is [("", ""), .. var rest] ? rest : [WithoutPhaseOneGate, .. definitionEdits];
        foreach (var (from, to) in definitionEdits)
        {
            Assert.Contains(from, definition, StringComparison.Ordinal);
            definition = definition.Replace(from, to, StringComparison.Ordinal);
        }
        var definitionPath = Path.Combine(Folder, "trial.json");
        File.WriteAllText(definitionPath, definition);

        _factory = new WebApplicationFactory<Program>().WithWebHostBuilder(builder =>
        {
            builder.UseEnvironment("Testing");
            builder.UseSetting("Database:Provider", database.ToString());
            builder.UseSetting(database == TestDatabase.Sqlite ? "Database:SqlitePath" : "Database:ConnectionString", DatabaseLocation);
            builder.UseSetting("Trial:DefinitionPath", definitionPath);
            builder.UseSetting("Logging:FilePath", Path.Combine(LogFolder, "cratus-.json"));
            builder.UseSetting("Token:Issuer", Issuer);
            builder.UseSetting("Token:Audience", Audience);
            builder.UseSetting("Token:SigningKey", SigningKey);
            builder.UseSetting("Encryption:ActiveKeyId", "k1");
            builder.UseSetting("Encryption:Keys:k1", EncryptionKey);
            builder.UseSetting("Identity:BootstrapSecret", BootstrapSecret);
            builder.UseSetting("Audit:HeadSigningKey", HeadSigningKey);
            // Tests fire calls faster than any person; the rate limit has tests of its own.
            builder.UseSetting("Limits:PermitsPerSecond", "100000");
            builder.UseSetting("Limits:Burst", "100000");
            foreach (var (key, value) in settings) builder.UseSetting(key, value);
            builder.UseSetting("Kestrel:Endpoints:Grpc:Url", "http://127.0.0.1:0");
            builder.ConfigureServices(services => services.Replace(ServiceDescriptor.Singleton<TimeProvider>(Clock)));
        });
        if (onLoopback)
        {
            _factory.UseKestrel();
            _factory.StartServer();
            Address = _factory.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single();
        }
        else
        {
            _ = _factory.Server; // start now, so migrations have run before the first call
        }
    }

    public string Token(TrialRole role, string subject = "user-1", IEnumerable<string>? sites = null, TimeSpan? lifetime = null,
        string issuer = Issuer, string audience = Audience, string? signingKey = null)
    {
        var claims = new List<Claim> { new("sub", subject), new("role", TrialRoles.ClaimValue(role)) };
        claims.AddRange((sites ?? []).Select(s => new Claim("site", s)));
        var now = Clock.GetUtcNow().UtcDateTime;
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = issuer,
            Audience = audience,
            Subject = new ClaimsIdentity(claims),
            NotBefore = now.AddMinutes(-5),
            IssuedAt = now.AddMinutes(-5),
            Expires = now + (lifetime ?? TimeSpan.FromMinutes(30)),
            SigningCredentials = new SigningCredentials(
                new SymmetricSecurityKey(Encoding.UTF8.GetBytes(signingKey ?? SigningKey)), SecurityAlgorithms.HmacSha256),
        });
    }

    /// <summary>A channel as a well-behaved client uses it: every write it sends without a request id gets a new UUID.</summary>
    public CallInvoker Channel(string? token) => RequestIds.Fill(RawChannel(token));

    /// <summary>A channel that sends requests exactly as given, for tests of what the server does with them.</summary>
    public GrpcChannel RawChannel(string? token)
    {
        if (Address is not null)
        {
            return GrpcChannel.ForAddress(Address, new GrpcChannelOptions { HttpHandler = token is null ? new SocketsHttpHandler() : new BearerHandler(token, new SocketsHttpHandler()) });
        }
        HttpMessageHandler handler = _factory.Server.CreateHandler();
        if (token is not null) handler = new BearerHandler(token, handler);
        return GrpcChannel.ForAddress(_factory.Server.BaseAddress, new GrpcChannelOptions { HttpHandler = handler });
    }

    public CallInvoker Channel(TrialRole role, params string[] sites) => Channel(Token(role, $"{role}-user", sites));

    public RandomizationService.RandomizationServiceClient Site(string site = "UM", TrialRole role = TrialRole.SiteCoordinator) =>
        new(Channel(role, site));

    public PharmacyService.PharmacyServiceClient Pharmacy() => new(Channel(TrialRole.Pharmacist));

    public ScheduleService.ScheduleServiceClient Statistician(string subject = "statistician-1") =>
        new(Channel(Token(TrialRole.Statistician, subject)));

    public TrialService.TrialServiceClient Trial(TrialRole role = TrialRole.Monitor) => new(Channel(role));

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

    private System.Data.Common.DbConnection OpenConnection() => Database == TestDatabase.Sqlite
        ? new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={DatabaseLocation};Pooling=False")
        : new Npgsql.NpgsqlConnection(DatabaseLocation);

    /// <summary>Stops the server but keeps its database, for a restart on the same data.</summary>
    public async Task StopAsync()
    {
        await _factory.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Npgsql.NpgsqlConnection.ClearAllPools();
    }

    public async ValueTask DisposeAsync()
    {
        await _factory.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (Database == TestDatabase.PostgreSql && _ownsDatabase) await TestDatabases.DropPostgreSqlDatabaseAsync(DatabaseLocation);
        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (IOException)
        {
            // A log file still held open; the temporary folder is cleaned by the OS.
        }
    }

    private sealed class BearerHandler(string token, HttpMessageHandler inner) : DelegatingHandler(inner)
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            return base.SendAsync(request, cancellationToken);
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
