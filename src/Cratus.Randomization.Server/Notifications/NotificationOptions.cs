using System.ComponentModel.DataAnnotations;
using Cratus.Randomization.Server.Security;

namespace Cratus.Randomization.Server.Notifications;

/// <summary>
/// Who is told: a role of the trial, or the sponsor. There is no sponsor role among the accounts (the sponsor reads
/// blinded reports as a monitor does), so the sponsor is a recipient group of its own in configuration.
/// </summary>
public enum NotificationAudience
{
    SiteCoordinator,
    Investigator,
    Pharmacist,
    Statistician,
    DsmbMember,
    Monitor,
    Administrator,
    Sponsor,
}

/// <summary>One configured recipient: an e-mail address or a webhook URL, for an audience, optionally one site.</summary>
public sealed class NotificationRecipient
{
    /// <summary>A short name, unique among the recipients; part of each message's id and shown to the operator.</summary>
    public string Name { get; set; } = "";
    public NotificationAudience? Audience { get; set; }
    /// <summary>A site code: this recipient hears of that site's events (and of trial-wide ones) only. Required for the
    /// site roles, who must never hear of another site's participants.</summary>
    public string? Site { get; set; }
    public string? Email { get; set; }
    public string? Webhook { get; set; }
    /// <summary>Optional: only these events (names as in <see cref="NotificationEvents"/>); all its audience may hear of, if empty.</summary>
    public List<string> Events { get; set; } = [];
}

/// <summary>SMTP for the e-mail channel (MailKit).</summary>
public sealed class SmtpOptions
{
    public string Host { get; set; } = "";
    public int Port { get; set; } = 587;
    /// <summary>None (loopback relays and tests only), StartTls or SslOnConnect.</summary>
    public string Security { get; set; } = "StartTls";
    public string UserName { get; set; } = "";
    /// <summary>A secret: set through an environment variable or a secret store, never in a committed file.</summary>
    public string Password { get; set; } = "";
    public string From { get; set; } = "";
}

/// <summary>Bound from the "Notifications" section (README, "Notifications").</summary>
public sealed class NotificationOptions
{
    public const string Section = "Notifications";

    /// <summary>Whether this node delivers the outbox. Messages are still written when off (an operator may hold delivery
    /// during maintenance; another node may deliver).</summary>
    public bool DeliveryEnabled { get; set; } = true;

    /// <summary>How often the worker looks for due messages and time-based events.</summary>
    [Range(typeof(TimeSpan), "00:00:00.050", "01:00:00")]
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>The wait after the first failure; it doubles after each further failure, up to <see cref="MaxRetryDelay"/>.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "1.00:00:00")]
    public TimeSpan FirstRetryDelay { get; set; } = TimeSpan.FromSeconds(30);

    [Range(typeof(TimeSpan), "00:00:00.010", "7.00:00:00")]
    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Attempts before a message is given up (and shown as such to the operator).</summary>
    [Range(1, 1000)]
    public int MaxAttempts { get; set; } = 20;

    /// <summary>How long a node's claim on a message holds; longer than one delivery attempt can take.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan Lease { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>How long before a Phase I safety window closes its closing is announced.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "30.00:00:00")]
    public TimeSpan SafetyWindowClosingNotice { get; set; } = TimeSpan.FromDays(2);

    /// <summary>The key of the webhook signature (HMAC-SHA256). A secret, at least 32 characters.</summary>
    public string WebhookSecret { get; set; } = "";

    public SmtpOptions Smtp { get; set; } = new();

    public List<NotificationRecipient> Recipients { get; set; } = [];

    /// <summary>What is wrong with the recipients and channels, one sentence each; empty when they are usable.</summary>
    public IEnumerable<string> Problems()
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var r in Recipients)
        {
            var who = string.IsNullOrWhiteSpace(r.Name) ? "a recipient" : $"recipient {r.Name}";
            if (string.IsNullOrWhiteSpace(r.Name) || r.Name.Length > 40 || !r.Name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
                yield return $"Notifications:Recipients: {who} needs a Name of letters, digits, '-', '_' or '.' (up to 40).";
            else if (!names.Add(r.Name)) yield return $"Notifications:Recipients: the name {r.Name} is used twice.";
            if (r.Audience is null) yield return $"Notifications:Recipients: {who} needs an Audience (a role such as Investigator, or Sponsor).";
            else if (r.Audience is NotificationAudience.SiteCoordinator or NotificationAudience.Investigator && string.IsNullOrWhiteSpace(r.Site))
                yield return $"Notifications:Recipients: {who} is a site role and needs a Site, so that it never hears of another site's participants.";
            if (string.IsNullOrWhiteSpace(r.Email) == string.IsNullOrWhiteSpace(r.Webhook))
                yield return $"Notifications:Recipients: {who} needs either an Email or a Webhook (one of them).";
            if (!string.IsNullOrWhiteSpace(r.Email) && !System.Net.Mail.MailAddress.TryCreate(r.Email, out _))
                yield return $"Notifications:Recipients: {who} has an Email that is not an e-mail address.";
            if (!string.IsNullOrWhiteSpace(r.Webhook) && !(Uri.TryCreate(r.Webhook, UriKind.Absolute, out var uri) && uri.Scheme is "https" or "http"))
                yield return $"Notifications:Recipients: {who} has a Webhook that is not an http(s) URL.";
            foreach (var e in r.Events.Where(e => !NotificationEvents.All.Contains(e)))
                yield return $"Notifications:Recipients: {who} names an unknown event {e} (known: {string.Join(", ", NotificationEvents.All)}).";
        }
        if (Recipients.Any(r => !string.IsNullOrWhiteSpace(r.Webhook)) && WebhookSecret.Length < 32)
            yield return "Notifications:WebhookSecret (32 or more characters) is required when a recipient has a Webhook.";
        if (Recipients.Any(r => !string.IsNullOrWhiteSpace(r.Email)))
        {
            if (string.IsNullOrWhiteSpace(Smtp.Host)) yield return "Notifications:Smtp:Host is required when a recipient has an Email.";
            if (!System.Net.Mail.MailAddress.TryCreate(Smtp.From, out _)) yield return "Notifications:Smtp:From (an e-mail address) is required when a recipient has an Email.";
            if (Smtp.Security is not ("None" or "StartTls" or "SslOnConnect")) yield return "Notifications:Smtp:Security must be None, StartTls or SslOnConnect.";
        }
    }

    /// <summary>Whether a secret given here is one committed to the repository (see <see cref="DevelopmentSecrets"/>).</summary>
    public bool UsesRepositorySecret() =>
        DevelopmentSecrets.NotificationSecrets.Contains(WebhookSecret) || DevelopmentSecrets.NotificationSecrets.Contains(Smtp.Password);
}
