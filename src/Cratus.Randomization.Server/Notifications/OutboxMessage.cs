using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Cratus.Randomization.Server.Notifications;

/// <summary>How a message reaches its recipient.</summary>
public enum NotificationChannel
{
    Email,
    Webhook,
}

/// <summary>
/// One message to one recipient, written in the transaction of the change it announces (so it exists if and only if
/// that change committed) and delivered later by <see cref="OutboxDelivery"/>. <see cref="MessageId"/> is stable: the
/// same on every delivery attempt, so a receiver can drop a message it already has. Times are Unix milliseconds (one
/// comparable form on every database).
/// </summary>
public sealed class OutboxMessageRecord
{
    public long Id { get; set; }
    /// <summary>Unique and stable: e-mail Message-ID and webhook event id; derived from what is announced and to whom.</summary>
    public string MessageId { get; set; } = "";
    /// <summary>What is announced (<see cref="NotificationEvents"/>), such as "participant.randomized".</summary>
    public string Event { get; set; } = "";
    /// <summary>The configured recipient's name (Notifications:Recipients), and its channel and address at the time.</summary>
    public string Recipient { get; set; } = "";
    public NotificationChannel Channel { get; set; }
    public string Address { get; set; } = "";
    /// <summary>The site the event belongs to; empty for a trial-wide event.</summary>
    public string Site { get; set; } = "";
    public string Subject { get; set; } = "";
    /// <summary>Plain text, the e-mail body.</summary>
    public string Body { get; set; } = "";
    /// <summary>JSON, the webhook body (the same facts as <see cref="Body"/>).</summary>
    public string Payload { get; set; } = "";
    public long CreatedAtUnixMilliseconds { get; set; }
    public int Attempts { get; set; }
    /// <summary>Not tried again before this time (the backoff after a failure).</summary>
    public long NextAttemptAtUnixMilliseconds { get; set; }
    /// <summary>The node delivering it now, and until when that claim holds (after which another node may take it).</summary>
    public string? LeaseOwner { get; set; }
    public long? LeaseUntilUnixMilliseconds { get; set; }
    public long? SentAtUnixMilliseconds { get; set; }
    /// <summary>Set when the attempts are used up: the message is not tried again, and the operator sees it.</summary>
    public long? GaveUpAtUnixMilliseconds { get; set; }
    public string? LastError { get; set; }
}

internal sealed class OutboxMessageRecordConfiguration : IEntityTypeConfiguration<OutboxMessageRecord>
{
    public void Configure(EntityTypeBuilder<OutboxMessageRecord> b)
    {
        b.ToTable("OutboxMessages");
        b.HasKey(m => m.Id);
        // One message per announced fact and recipient: a time-based scan on two nodes cannot add it twice.
        b.HasIndex(m => m.MessageId).IsUnique();
        // The worker's question: what is waiting and due.
        b.HasIndex(m => new { m.SentAtUnixMilliseconds, m.GaveUpAtUnixMilliseconds, m.NextAttemptAtUnixMilliseconds });
        b.Property(m => m.MessageId).HasMaxLength(64);
        b.Property(m => m.Event).HasMaxLength(64);
        b.Property(m => m.Recipient).HasMaxLength(100);
        b.Property(m => m.Channel).HasConversion<string>().HasMaxLength(16);
        b.Property(m => m.Address).HasMaxLength(500);
        b.Property(m => m.Site).HasMaxLength(16);
        b.Property(m => m.Subject).HasMaxLength(300);
        b.Property(m => m.Body).HasMaxLength(8000);
        b.Property(m => m.Payload).HasMaxLength(8000);
        b.Property(m => m.LeaseOwner).HasMaxLength(100);
        b.Property(m => m.LastError).HasMaxLength(1000);
    }
}
