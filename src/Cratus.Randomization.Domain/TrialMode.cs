namespace Cratus.Randomization.Domain;

/// <summary>
/// The mode a trial runs in, chosen when the server starts (DOMAIN.md, Environments). Production holds the real trial;
/// UAT (user acceptance testing) and Training rehearse it with made-up participants.
/// </summary>
public enum TrialMode
{
    Production,
    Uat,
    Training,
}
