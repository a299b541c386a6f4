using System.Collections.Concurrent;
using System.Net;
using System.Text;
using Cratus.Randomization.Server.Notifications;
using netDumbster.smtp;

namespace Cratus.Randomization.Server.Tests;

/// <summary>One webhook delivery as the receiver saw it, with whether its HMAC signature verified.</summary>
internal sealed record WebhookDelivery(string Path, string EventId, string Event, string Timestamp, string Signature, string Body, bool SignatureValid)
{
    /// <summary>Everything the recipient receives, for the blinding check.</summary>
    public string Everything => $"{Path}\n{EventId}\n{Event}\n{Timestamp}\n{Signature}\n{Body}";
}

/// <summary>
/// A real HTTP listener on loopback receiving the webhooks as a recipient's system would: it verifies each signature
/// with the shared secret (as README "Notifications" tells receivers to), answers 500 to the first
/// <see cref="FailFirst"/> requests, and with <see cref="Hold"/> keeps the next request unanswered.
/// </summary>
internal sealed class WebhookReceiver : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly string _secret;
    private readonly ConcurrentDictionary<string, int> _seen = new(StringComparer.Ordinal);

    public WebhookReceiver(string secret, int port = 0)
    {
        _secret = secret;
        Port = port == 0 ? Loopback.FreePort() : port;
        _listener.Prefixes.Add($"http://127.0.0.1:{Port}/");
        _listener.Start();
        _ = Task.Run(LoopAsync);
    }

    public int Port { get; }
    public string Url(string path) => $"http://127.0.0.1:{Port}/{path}";
    public ConcurrentQueue<WebhookDelivery> Received { get; } = new();
    /// <summary>Requests answered 500 at each path before the receiver "recovers".</summary>
    public int FailFirst { get; set; }
    /// <summary>While set, a request is recorded and then left unanswered (a receiver that hangs).</summary>
    public bool Hold { get; set; }

    public IEnumerable<WebhookDelivery> At(string path) => Received.Where(d => d.Path == "/" + path);

    private async Task LoopAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try { context = await _listener.GetContextAsync(); }
            catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or InvalidOperationException) { return; }
            using var reader = new StreamReader(context.Request.InputStream, Encoding.UTF8);
            var body = await reader.ReadToEndAsync();
            var headers = context.Request.Headers;
            var eventId = headers[NotificationHeaders.EventId] ?? "";
            var timestamp = headers[NotificationHeaders.Timestamp] ?? "";
            var signature = headers[NotificationHeaders.Signature] ?? "";
            var valid = NotificationHeaders.Sign(_secret, timestamp, eventId, Encoding.UTF8.GetBytes(body)) == signature;
            Received.Enqueue(new WebhookDelivery(context.Request.Url!.AbsolutePath, eventId, headers[NotificationHeaders.Event] ?? "", timestamp, signature, body, valid));
            if (Hold) continue;
            context.Response.StatusCode = _seen.AddOrUpdate(context.Request.Url!.AbsolutePath, 1, (_, n) => n + 1) <= FailFirst ? 500 : 200;
            context.Response.Close();
        }
    }

    public void Dispose()
    {
        try { _listener.Stop(); } catch (ObjectDisposedException) { }
        _listener.Close();
    }
}

/// <summary>A real SMTP listener on loopback (netDumbster); the messages as received, raw headers and body included.</summary>
internal sealed class SmtpReceiver : IDisposable
{
    private SimpleSmtpServer? _server;

    public SmtpReceiver(int port = 0, bool start = true)
    {
        Port = port == 0 ? Loopback.FreePort() : port;
        if (start) Start();
    }

    public int Port { get; }

    public void Start() => _server = SimpleSmtpServer.Start(Port);

    public IReadOnlyList<SmtpMessage> Messages => _server?.ReceivedEmail ?? [];

    public IEnumerable<SmtpMessage> To(string address) =>
        Messages.Where(m => m.ToAddresses.Any(a => string.Equals(a.Address, address, StringComparison.OrdinalIgnoreCase)));

    public void Dispose() => _server?.Dispose();
}

internal static class Eventually
{
    /// <summary>Waits (real time) until <paramref name="condition"/> holds; fails with <paramref name="what"/> after the limit.</summary>
    public static async Task HoldsAsync(Func<bool> condition, string what, int seconds = 20)
    {
        var until = DateTime.UtcNow.AddSeconds(seconds);
        while (!condition())
        {
            if (DateTime.UtcNow > until) Assert.Fail($"not within {seconds} s: {what}");
            await Task.Delay(50);
        }
    }

    public static async Task HoldsAsync(Func<Task<bool>> condition, string what, int seconds = 20)
    {
        var until = DateTime.UtcNow.AddSeconds(seconds);
        while (!await condition())
        {
            if (DateTime.UtcNow > until) Assert.Fail($"not within {seconds} s: {what}");
            await Task.Delay(50);
        }
    }
}
