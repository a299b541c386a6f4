using System.Net.Http.Headers;
using System.Text.Json;
using Cratus.Randomization.Protos.V1;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Grpc.Net.Client;

namespace Cratus.Cli;

/// <summary>The server, the caller's token and the output format of one invocation.</summary>
public sealed class CliSession(string server, string? token, bool json, TextWriter output, string? requestId = null, string? issuer = null)
{
    /// <summary>
    /// The request id of this invocation's write: --request-id to retry an earlier attempt safely, else a new UUID.
    /// A command makes at most one write, so one id per invocation is one id per intended change.
    /// </summary>
    public string RequestId { get; } = requestId ?? Guid.NewGuid().ToString();

    /// <summary>True once a write was sent, so a failure can tell the user which request id to retry with.</summary>
    public bool SentWrite { get; internal set; }

    public string Server => server;

    /// <summary>The OpenID Connect server that signs in (the service's web address): --issuer, CRATUS_ISSUER, or
    /// the gRPC address with the next port (the layout of the default configuration).</summary>
    public string Issuer => issuer ?? Environment.GetEnvironmentVariable("CRATUS_ISSUER") ?? NextPort(server);

    private static string NextPort(string address)
    {
        var uri = new UriBuilder(address);
        uri.Port += 1;
        return uri.Uri.AbsoluteUri;
    }

    /// <summary>A channel carrying the caller's token: --token, CRATUS_TOKEN, or the saved session (refreshed when expired).</summary>
    public CallInvoker Channel()
    {
        var bearer = token ?? Environment.GetEnvironmentVariable("CRATUS_TOKEN") ?? SavedAccessToken()
            ?? throw new CliException("not signed in: run 'cratus login', or pass --token");
        var handler = new BearerHandler(bearer.Trim()) { InnerHandler = new SocketsHttpHandler { EnableMultipleHttp2Connections = true } };
        return GrpcChannel.ForAddress(server, new GrpcChannelOptions { HttpHandler = handler, DisposeHttpClient = true }).Intercept(new RetrySafeWrites(this));
    }

    /// <summary>
    /// Every write carries this invocation's request id (AIP-155), and a busy or unreachable server is retried with
    /// the same id: the server answers a retry with its first answer, so nothing is ever done twice.
    /// </summary>
    private sealed class RetrySafeWrites(CliSession session) : Interceptor
    {
        private const int Attempts = 3;

        public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(
            TRequest request, ClientInterceptorContext<TRequest, TResponse> context, AsyncUnaryCallContinuation<TRequest, TResponse> continuation)
        {
            if (request is not IMessage message || message.Descriptor.FindFieldByName("request_id") is not { } field)
                return continuation(request, context);
            if (string.IsNullOrEmpty((string)field.Accessor.GetValue(message))) field.Accessor.SetValue(message, session.RequestId);
            session.SentWrite = true;
            // Each attempt gets the whole time the command allowed the first one (a retry after DEADLINE_EXCEEDED
            // would otherwise start already out of time), and the reply, status and trailers are the last attempt's.
            var budget = context.Options.Deadline is { } deadline && deadline != DateTime.MaxValue ? deadline - DateTime.UtcNow : (TimeSpan?)null;
            AsyncUnaryCall<TResponse> Attempt() => continuation(request, budget is { } time
                ? new ClientInterceptorContext<TRequest, TResponse>(context.Method, context.Host, context.Options.WithDeadline(DateTime.UtcNow + time))
                : context);
            var current = Attempt();
            var attempts = new List<AsyncUnaryCall<TResponse>> { current };

            async Task<TResponse> RetryAsync()
            {
                for (var attempt = 1; ; attempt++)
                {
                    try
                    {
                        return await current.ResponseAsync;
                    }
                    catch (RpcException ex) when (ex.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded && attempt < Attempts)
                    {
                        await Task.Delay(TimeSpan.FromSeconds(attempt));
                        attempts.Add(current = Attempt());
                    }
                }
            }

            return new AsyncUnaryCall<TResponse>(RetryAsync(), current.ResponseHeadersAsync, () => current.GetStatus(), () => current.GetTrailers(),
                () => attempts.ForEach(call => call.Dispose()));
        }
    }

    /// <summary>A channel without a token, for the calls that need none (health, bootstrap).</summary>
    public GrpcChannel AnonymousChannel() => GrpcChannel.ForAddress(server);

    private static string? SavedAccessToken()
    {
        var saved = TokenStore.Load();
        if (saved is null) return null;
        if (saved.AccessTokenExpiresAt is { } expires && expires <= DateTimeOffset.UtcNow.AddSeconds(30)
            && saved.RefreshToken is { Length: > 0 } refresh && saved.Issuer is { Length: > 0 } issuer)
        {
            // Each refresh token works once: the new one replaces it in the saved session.
            using var oidc = new OpenIdClient(issuer);
            saved = TokenStore.Save(oidc.RefreshAsync(refresh, CancellationToken.None).GetAwaiter().GetResult(), issuer);
        }
        return saved.AccessToken;
    }

    public void Print(IMessage reply, IReadOnlyList<(string Label, string Value)> rows)
    {
        if (json)
        {
            output.WriteLine(JsonFormatter.Default.Format(reply));
            return;
        }
        var width = rows.Count == 0 ? 0 : rows.Max(r => r.Label.Length);
        foreach (var (label, value) in rows) output.WriteLine($"{label.PadRight(width)}  {value}");
    }

    /// <summary>A line for people only (omitted with --json, whose reply carries the same fact).</summary>
    public void Note(string line)
    {
        if (!json) output.WriteLine(line);
    }

    /// <summary>Rows as an aligned table with a header line, or the reply as JSON.</summary>
    public void PrintTable(IMessage reply, IReadOnlyList<string> headers, IReadOnlyList<IReadOnlyList<string>> rows)
    {
        if (json)
        {
            output.WriteLine(JsonFormatter.Default.Format(reply));
            return;
        }
        var widths = headers.Select((h, i) => Math.Max(h.Length, rows.Count == 0 ? 0 : rows.Max(r => r[i].Length))).ToList();
        output.WriteLine(string.Join("  ", headers.Select((h, i) => h.PadRight(widths[i]))).TrimEnd());
        foreach (var row in rows) output.WriteLine(string.Join("  ", row.Select((v, i) => v.PadRight(widths[i]))).TrimEnd());
        if (rows.Count == 0) output.WriteLine("(none)");
    }

    private sealed class BearerHandler(string token) : DelegatingHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            return base.SendAsync(request, cancellationToken);
        }
    }
}

/// <summary>A saved session: the access token, the refresh token (people; not site systems) and the issuer to refresh at.</summary>
public sealed record SavedSession(string AccessToken, DateTimeOffset? AccessTokenExpiresAt, string? RefreshToken, string? Issuer = null);

/// <summary>The saved session, in the user's profile, readable and writable by that user only.</summary>
public static class TokenStore
{
    public static string PathOf() => Environment.GetEnvironmentVariable("CRATUS_TOKEN_FILE")
        ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.ApplicationData, Environment.SpecialFolderOption.Create), "cratus", "session.json");

    public static SavedSession? Load()
    {
        var path = PathOf();
        if (!File.Exists(path)) return null;
        try
        {
            return JsonSerializer.Deserialize<SavedSession>(File.ReadAllText(path));
        }
        catch (JsonException)
        {
            throw new CliException($"the saved session in {path} is unreadable; run 'cratus login' again");
        }
    }

    public static SavedSession Save(TokenReply tokens, string issuer)
    {
        var session = new SavedSession(tokens.AccessToken!, tokens.ExpiresIn is { } seconds ? DateTimeOffset.UtcNow.AddSeconds(seconds) : null,
            tokens.RefreshToken, issuer);
        Save(session);
        return session;
    }

    /// <summary>Who an access token names (read, not validated: the server validates it).</summary>
    public static (string Subject, string Role, IReadOnlyList<string> Sites) Describe(string accessToken)
    {
        var token = new Microsoft.IdentityModel.JsonWebTokens.JsonWebToken(accessToken);
        return (token.Subject, token.Claims.FirstOrDefault(c => c.Type == "role")?.Value ?? "",
            [.. token.Claims.Where(c => c.Type == "site").Select(c => c.Value)]);
    }

    public static void Save(SavedSession session)
    {
        var path = PathOf();
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.Delete(path);
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using var stream = new FileStream(path, options);
        JsonSerializer.Serialize(stream, session);
    }

    public static bool Delete()
    {
        var path = PathOf();
        if (!File.Exists(path)) return false;
        File.Delete(path);
        return true;
    }
}
