using System.Net.Http.Headers;
using Google.Protobuf;
using Grpc.Net.Client;

namespace Cratus.Cli;

/// <summary>The server, the caller's token and the output format of one invocation.</summary>
public sealed class CliSession(string server, string? token, bool json, TextWriter output)
{
    public GrpcChannel Channel()
    {
        var bearer = token ?? Environment.GetEnvironmentVariable("CRATUS_TOKEN") ?? TokenStore.Load()
            ?? throw new CliException("not signed in: run 'cratus dev-token' (development) or pass --token");
        var handler = new BearerHandler(bearer.Trim()) { InnerHandler = new SocketsHttpHandler { EnableMultipleHttp2Connections = true } };
        return GrpcChannel.ForAddress(server, new GrpcChannelOptions { HttpHandler = handler, DisposeHttpClient = true });
    }

    /// <summary>A channel without a token, for the one service that needs none (health).</summary>
    public GrpcChannel AnonymousChannel() => GrpcChannel.ForAddress(server);

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

    private sealed class BearerHandler(string token) : DelegatingHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            return base.SendAsync(request, cancellationToken);
        }
    }
}

/// <summary>The saved token, in the user's profile, readable and writable by that user only.</summary>
public static class TokenStore
{
    public static string PathOf() => Environment.GetEnvironmentVariable("CRATUS_TOKEN_FILE")
        ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.ApplicationData, Environment.SpecialFolderOption.Create), "cratus", "token");

    public static string? Load() => File.Exists(PathOf()) ? File.ReadAllText(PathOf()) : null;

    public static void Save(string token)
    {
        var path = PathOf();
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.Delete(path);
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using var stream = new FileStream(path, options);
        using var writer = new StreamWriter(stream);
        writer.Write(token);
    }
}
