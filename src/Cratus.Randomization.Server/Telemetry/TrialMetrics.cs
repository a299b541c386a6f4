using System.Collections.Frozen;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Cratus.Randomization.Domain;
using Cratus.Randomization.Server.Application.Participants;
using Cratus.Randomization.Server.Application.Unblinding;
using Cratus.Randomization.Server.Grpc;
using Cratus.Randomization.Server.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace Cratus.Randomization.Server.Telemetry;

/// <summary>A use case whose outcomes <see cref="TrialMetrics"/> counts (the UseCase bases; set when resolved).</summary>
public interface IObservedUseCase
{
    /// <summary>Where the outcome is counted; null where telemetry is not set up (a use case built by hand).</summary>
    TrialMetrics? Metrics { get; set; }
}

/// <summary>
/// The service's own metrics, in one meter (<see cref="MeterName"/>), exported on the Prometheus scrape endpoint and by
/// OTLP (README, "Telemetry"). Every label is bounded and says nothing about a participant: a refusal's ErrorInfo
/// reason, an unblinding's kind, a gRPC method and status, a database command's outcome. Never an arm, a dose, a
/// participant or screening id, a randomization number or a product code: a count by arm would unblind whoever reads
/// the dashboard.
/// </summary>
public sealed class TrialMetrics : IDisposable
{
    /// <summary>The meter's name, as exporters select it.</summary>
    public const string MeterName = "Cratus.Randomization";

    private static readonly double[] CallBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 10];
    private static readonly double[] DatabaseBuckets = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

    // The ErrorInfo reason of each refusal, computed once (the label a dashboard groups by).
    private static readonly FrozenDictionary<RefusalReason, KeyValuePair<string, object?>> ReasonTags =
        Enum.GetValues<RefusalReason>().ToFrozenDictionary(r => r, r => new KeyValuePair<string, object?>("reason", ReasonName(r)));

    private static readonly KeyValuePair<string, object?> Emergency = new("kind", "emergency");
    private static readonly KeyValuePair<string, object?> Controlled = new("kind", "controlled");
    private static readonly KeyValuePair<string, object?> CommandSucceeded = new("db.outcome", "ok");
    private static readonly KeyValuePair<string, object?> CommandFailed = new("db.outcome", "failed");

    private readonly Meter _meter;
    private readonly DatabaseCommandObserver _databaseCommandObserver;
    private readonly Counter<long> _randomizations;
    private readonly Counter<long> _cohortEnrolments;
    private readonly Counter<long> _unblindings;
    private readonly Counter<long> _refusals;
    private readonly Histogram<double> _calls;
    private readonly Histogram<double> _databaseCommands;
    private readonly IDisposable _databaseSubscription;
    private readonly OutboxCount _outbox;

    public TrialMetrics(IMeterFactory meters, IServiceScopeFactory scopes)
    {
        _meter = meters.Create(MeterName);
        _randomizations = _meter.CreateCounter<long>("cratus.randomizations", "{randomization}",
            "Participants randomized into the Phase II schedule.");
        _cohortEnrolments = _meter.CreateCounter<long>("cratus.cohort_enrolments", "{enrolment}",
            "Participants enrolled in a Phase I dose-escalation cohort.");
        _unblindings = _meter.CreateCounter<long>("cratus.unblindings", "{unblinding}",
            "Unblindings by kind: emergency (an investigator, one participant) or controlled (a request approved by a second statistician).");
        _refusals = _meter.CreateCounter<long>("cratus.refusals", "{refusal}",
            "Calls refused under the trial's rules, by ErrorInfo reason.");
        _calls = _meter.CreateHistogram("cratus.call.duration", "s",
            "Time to answer a gRPC call (REST calls included, as their gRPC method), by method and gRPC status.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = CallBuckets });
        _databaseCommands = _meter.CreateHistogram("cratus.db.command.duration", "s",
            "Time the database took for each command, by outcome.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = DatabaseBuckets });
        _outbox = new OutboxCount(scopes);
        _meter.CreateObservableGauge("cratus.outbox.backlog", () => _outbox.Read().Waiting, "{message}",
            "Notifications written but not yet delivered (and not given up).");
        _meter.CreateObservableGauge("cratus.outbox.given_up", () => _outbox.Read().GivenUp, "{message}",
            "Notifications whose delivery attempts are used up: an operator must look.");
        _databaseCommandObserver = new DatabaseCommandObserver(this);
        _databaseSubscription = DiagnosticListener.AllListeners.Subscribe(_databaseCommandObserver);
    }

    /// <summary>A use case completed: counted if it is a randomization, a cohort enrolment or an unblinding.</summary>
    public void Completed(Type useCase)
    {
        if (useCase == typeof(RandomizeParticipant)) _randomizations.Add(1);
        else if (useCase == typeof(EnrolInCohort)) _cohortEnrolments.Add(1);
        else if (useCase == typeof(EmergencyUnblind)) _unblindings.Add(1, Emergency);
        else if (useCase == typeof(ApproveUnblinding)) _unblindings.Add(1, Controlled);
    }

    /// <summary>A use case refused under the trial's rules: counted by its ErrorInfo reason (a fixed set of names).</summary>
    public void Refused(RefusalReason reason) => _refusals.Add(1, ReasonTags[reason]);

    /// <summary>One call answered: its gRPC method (the full name, a fixed set) and status.</summary>
    public void Called(string method, global::Grpc.Core.StatusCode status, double seconds) =>
        _calls.Record(seconds, new KeyValuePair<string, object?>("rpc.method", method), new KeyValuePair<string, object?>("rpc.grpc.status", StatusName(status)));

    /// <summary>The ErrorInfo reason string a refusal carries (the proto enum name without its prefix).</summary>
    public static string ReasonName(RefusalReason reason) =>
        Enum.TryParse<Protos.V1.ErrorReason>(reason.ToString(), out var proto) ? RichStatus.ReasonName(proto) : "OTHER";

    private static readonly string[] StatusNames = Enum.GetValues<global::Grpc.Core.StatusCode>()
        .OrderBy(s => (int)s).Select(s => s.ToString()).ToArray();

    private static string StatusName(global::Grpc.Core.StatusCode status) =>
        (uint)status < (uint)StatusNames.Length ? StatusNames[(int)status] : "Unknown";

    public void Dispose()
    {
        // Both the watch for new listeners and the subscriptions to EF Core's: a listener lives as long as the process
        // (EF Core shares it between the servers of one process), and would otherwise keep this server's metrics alive.
        _databaseSubscription.Dispose();
        _databaseCommandObserver.Dispose();
        _meter.Dispose();
    }

    /// <summary>
    /// EF Core's own diagnostic events for each command it runs (any provider): their measured duration, no SQL and no
    /// parameter. The commands of the outbox count itself are not measured (they run while the metrics are collected).
    /// </summary>
    private sealed class DatabaseCommandObserver(TrialMetrics metrics) : IObserver<DiagnosticListener>, IObserver<KeyValuePair<string, object?>>, IDisposable
    {
        private readonly List<IDisposable> _subscriptions = [];
        private bool _disposed;

        public void OnNext(DiagnosticListener listener)
        {
            if (listener.Name != DbLoggerCategory.Name) return;
            lock (_subscriptions)
            {
                if (!_disposed) _subscriptions.Add(listener.Subscribe(this, IsMeasured));
            }
        }

        public void Dispose()
        {
            lock (_subscriptions)
            {
                _disposed = true;
                foreach (var subscription in _subscriptions) subscription.Dispose();
                _subscriptions.Clear();
            }
        }

        private static bool IsMeasured(string name) =>
            name == RelationalEventId.CommandExecuted.Name || name == RelationalEventId.CommandError.Name;

        public void OnNext(KeyValuePair<string, object?> value)
        {
            if (OutboxCount.Counting) return;
            switch (value.Value)
            {
                case CommandExecutedEventData executed:
                    metrics._databaseCommands.Record(executed.Duration.TotalSeconds, CommandSucceeded);
                    break;
                case CommandErrorEventData failed:
                    metrics._databaseCommands.Record(failed.Duration.TotalSeconds, CommandFailed);
                    break;
            }
        }

        public void OnCompleted() { }
        public void OnError(Exception error) { }
    }

    /// <summary>The outbox's waiting and given-up messages, counted at most every few seconds (two indexed counts).</summary>
    private sealed class OutboxCount(IServiceScopeFactory scopes)
    {
        // Real time, not the trial clock (which a rehearsal or a test moves): this is the cost of a scrape.
        private const long FreshnessMilliseconds = 5000;
        [ThreadStatic] private static bool _counting;
        private readonly Lock _gate = new();
        private (long Waiting, long GivenUp) _last;
        private long _readAt = long.MinValue;

        /// <summary>Whether this thread is counting now (its own commands are not measured).</summary>
        public static bool Counting => _counting;

        public (long Waiting, long GivenUp) Read()
        {
            lock (_gate)
            {
                var now = Environment.TickCount64;
                if (_readAt != long.MinValue && now - _readAt < FreshnessMilliseconds) return _last;
                _counting = true;
                try
                {
                    using var scope = scopes.CreateScope();
                    var db = scope.ServiceProvider.GetRequiredService<TrialDbContext>();
                    var waiting = db.OutboxMessages.LongCount(m => m.SentAtUnixMilliseconds == null && m.GaveUpAtUnixMilliseconds == null);
                    var givenUp = db.OutboxMessages.LongCount(m => m.GaveUpAtUnixMilliseconds != null);
                    _last = (waiting, givenUp);
                }
                catch (Exception failure) when (failure is InvalidOperationException or System.Data.Common.DbException or TimeoutException)
                {
                    // A database that does not answer: the last count stands (its outage shows in the call metrics).
                }
                finally
                {
                    _counting = false;
                }
                _readAt = now;
                return _last;
            }
        }
    }
}
