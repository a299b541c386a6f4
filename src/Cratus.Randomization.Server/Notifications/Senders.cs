using System.Globalization;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using MailKit.Net.Smtp;
using MailKit.Security;
using Microsoft.Extensions.Options;
using MimeKit;

namespace Cratus.Randomization.Server.Notifications;

/// <summary>
/// E-mail over SMTP (MailKit). The Message-ID is the outbox message's stable id, so a mail system or a person can see
/// that two copies are one message; the same id is in the X-Cratus-Event-Id header.
/// </summary>
public sealed class EmailSender(IOptions<NotificationOptions> options) : INotificationSender
{
    public NotificationChannel Channel => NotificationChannel.Email;

    public async Task SendAsync(OutboxMessageRecord message, CancellationToken ct)
    {
        var smtp = options.Value.Smtp;
        var mail = new MimeMessage
        {
            MessageId = $"{message.MessageId}@cratus.notifications",
            Subject = message.Subject,
            Body = new TextPart("plain") { Text = message.Body },
            Date = DateTimeOffset.FromUnixTimeMilliseconds(message.CreatedAtUnixMilliseconds),
        };
        mail.From.Add(MailboxAddress.Parse(smtp.From));
        mail.To.Add(MailboxAddress.Parse(message.Address));
        mail.Headers.Add(NotificationHeaders.EventId, message.MessageId);
        mail.Headers.Add(NotificationHeaders.Event, message.Event);
        using var client = new SmtpClient();
        var security = smtp.Security switch
        {
            "None" => SecureSocketOptions.None,
            "SslOnConnect" => SecureSocketOptions.SslOnConnect,
            _ => SecureSocketOptions.StartTls,
        };
        await client.ConnectAsync(smtp.Host, smtp.Port, security, ct);
        if (!string.IsNullOrEmpty(smtp.UserName)) await client.AuthenticateAsync(smtp.UserName, smtp.Password, ct);
        await client.SendAsync(mail, ct);
        await client.DisconnectAsync(true, ct);
    }
}

/// <summary>The headers a webhook receiver reads (README, "Notifications": verifying a webhook).</summary>
public static class NotificationHeaders
{
    /// <summary>The message's stable id: the same on every delivery of one message; drop a second one.</summary>
    public const string EventId = "X-Cratus-Event-Id";
    public const string Event = "X-Cratus-Event";
    /// <summary>Unix seconds when this delivery attempt was signed.</summary>
    public const string Timestamp = "X-Cratus-Timestamp";
    /// <summary>"sha256=" and the lower-case hex HMAC-SHA256, under the webhook secret, of "{timestamp}.{event id}.{body}".</summary>
    public const string Signature = "X-Cratus-Signature";

    /// <summary>The signature of one delivery: HMAC-SHA256 over timestamp, event id and the exact body bytes.</summary>
    public static string Sign(string secret, string timestamp, string eventId, ReadOnlySpan<byte> body)
    {
        var prefix = Encoding.UTF8.GetBytes($"{timestamp}.{eventId}.");
        var signed = new byte[prefix.Length + body.Length];
        prefix.CopyTo(signed, 0);
        body.CopyTo(signed.AsSpan(prefix.Length));
        return "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), signed));
    }
}

/// <summary>A webhook: the JSON payload POSTed with its event id, timestamp and HMAC-SHA256 signature; any 2xx is delivered.</summary>
public sealed class WebhookSender(IOptions<NotificationOptions> options) : INotificationSender, IDisposable
{
    private readonly HttpClient _http = new() { Timeout = Timeout.InfiniteTimeSpan };

    public NotificationChannel Channel => NotificationChannel.Webhook;

    public async Task SendAsync(OutboxMessageRecord message, CancellationToken ct)
    {
        var body = Encoding.UTF8.GetBytes(message.Payload);
        // The signing time is the real time of this attempt (a receiver compares it with its own clock).
        var timestamp = DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        using var request = new HttpRequestMessage(HttpMethod.Post, message.Address) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
        request.Headers.Add(NotificationHeaders.EventId, message.MessageId);
        request.Headers.Add(NotificationHeaders.Event, message.Event);
        request.Headers.Add(NotificationHeaders.Timestamp, timestamp);
        request.Headers.Add(NotificationHeaders.Signature, NotificationHeaders.Sign(options.Value.WebhookSecret, timestamp, message.MessageId, body));
        using var response = await _http.SendAsync(request, ct);
        if (!response.IsSuccessStatusCode)
            throw new HttpRequestException($"the webhook answered {(int)response.StatusCode} {response.ReasonPhrase}", null, response.StatusCode);
    }

    public void Dispose() => _http.Dispose();
}
