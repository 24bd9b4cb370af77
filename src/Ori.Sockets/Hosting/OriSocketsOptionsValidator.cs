using Microsoft.Extensions.Options;

namespace Ori.Sockets.Hosting;

/// <summary>Checks the options at start-up, so that a bad configuration stops the host with a sentence, not a late failure.</summary>
internal sealed class OriSocketsOptionsValidator : IValidateOptions<OriSocketsOptions>
{
    public ValidateOptionsResult Validate(string? name, OriSocketsOptions options)
    {
        var failures = new List<string>();
        foreach (var topic in options.RecoverableTopics)
        {
            if (topic.Problem() is { } problem)
            {
                failures.Add(problem);
            }
        }

        if (options.ReceiveLimit is < 16 or > 16 * 1024 * 1024)
        {
            failures.Add($"Ori:Sockets:ReceiveLimit must be between 16 bytes and 16 MiB (it is {options.ReceiveLimit}).");
        }

        if (options.MaxJsonDepth is < 2 or > 256)
        {
            failures.Add($"Ori:Sockets:MaxJsonDepth must be between 2 and 256 (it is {options.MaxJsonDepth}).");
        }

        if (options.MaxRoomsPerSocket is < 1 or > 100_000)
        {
            failures.Add($"Ori:Sockets:MaxRoomsPerSocket must be between 1 and 100000 (it is {options.MaxRoomsPerSocket}).");
        }

        if (double.IsNaN(options.MessagesPerSecond) || options.MessagesPerSecond < 0)
        {
            failures.Add($"Ori:Sockets:MessagesPerSecond must be 0 (off) or more (it is {options.MessagesPerSecond}).");
        }

        if (options.MessageBurst < 1)
        {
            failures.Add($"Ori:Sockets:MessageBurst must be at least 1 (it is {options.MessageBurst}).");
        }

        if (options.RateLimitCloseFactor is < 0 or > 1000)
        {
            failures.Add($"Ori:Sockets:RateLimitCloseFactor must be between 0 (never close) and 1000 (it is {options.RateLimitCloseFactor}).");
        }

        if (options.ConnectionsPerMinutePerAddress < 0 || options.ConnectionsPerMinutePerUser < 0)
        {
            failures.Add("Ori:Sockets:ConnectionsPerMinutePerAddress and ConnectionsPerMinutePerUser must be 0 (off) or more.");
        }

        if (options.OutboundBudget != 0 && options.OutboundBudget < options.OutboundQueueLimit)
        {
            failures.Add($"Ori:Sockets:OutboundBudget must be 0 (off) or at least OutboundQueueLimit ({options.OutboundQueueLimit} bytes); it is {options.OutboundBudget}.");
        }

        if (options.OutboundBudgetPerConnection < 0)
        {
            failures.Add($"Ori:Sockets:OutboundBudgetPerConnection must be 0 (a fixed budget) or more; it is {options.OutboundBudgetPerConnection}.");
        }

        if (options.OutboundQueueLimit < 1024)
        {
            failures.Add($"Ori:Sockets:OutboundQueueLimit must be at least 1024 bytes (it is {options.OutboundQueueLimit}).");
        }

        CheckPositive(failures, nameof(options.UpgradeTimeout), options.UpgradeTimeout);
        CheckPositive(failures, nameof(options.GuardTimeout), options.GuardTimeout);
        CheckPositive(failures, nameof(options.CloseTimeout), options.CloseTimeout);
        if (options.PresenceEventsWindow <= TimeSpan.Zero)
        {
            failures.Add("Ori:Sockets:PresenceEventsWindow must be positive.");
        }

        if (options.DependencyTimeout <= TimeSpan.Zero)
        {
            failures.Add("Ori:Sockets:DependencyTimeout must be positive.");
        }

        if (options.FragmentedMessageTimeout < TimeSpan.Zero)
        {
            failures.Add("Ori:Sockets:FragmentedMessageTimeout must not be negative (use 00:00:00 to turn it off).");
        }

        if (options.DrainWindow < TimeSpan.Zero || options.DrainWindow > TimeSpan.FromMinutes(10))
        {
            failures.Add("Ori:Sockets:DrainWindow must be between 00:00:00 (close every socket at once) and 00:10:00.");
        }

        if (options.DrainReconnectDelay < TimeSpan.Zero || options.DrainReconnectDelay > TimeSpan.FromMinutes(5))
        {
            failures.Add("Ori:Sockets:DrainReconnectDelay must be between 00:00:00 and 00:05:00.");
        }

        if (options.IdleTimeout < TimeSpan.Zero)
        {
            failures.Add("Ori:Sockets:IdleTimeout must not be negative (use 00:00:00 to turn it off).");
        }

        foreach (var origin in options.AllowedOrigins)
        {
            if (origin != "*" && !Uri.TryCreate(origin, UriKind.Absolute, out _))
            {
                failures.Add($"Ori:Sockets:AllowedOrigins has '{origin}', which is not an origin such as https://app.example.com.");
            }
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static void CheckPositive(List<string> failures, string name, TimeSpan value)
    {
        if (value <= TimeSpan.Zero)
        {
            failures.Add($"Ori:Sockets:{name} must be positive (it is {value}).");
        }
    }
}
