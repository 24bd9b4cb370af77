using System.Collections.Concurrent;
using Dashboard.Contracts;
using Ori.Sockets;

namespace Dashboard.Server;

/// <summary>An incident as the HTTP API returns it.</summary>
public sealed record Incident(string Id, string AccountId, string ProjectId, string Title, string Severity, string MonitorId, DateTimeOffset CreatedAt);

/// <summary>The incidents of every account, in memory.</summary>
public sealed class IncidentStore(TimeProvider time)
{
    private readonly ConcurrentDictionary<string, Incident> _incidents = new(StringComparer.Ordinal);

    /// <summary>Creates and keeps an incident.</summary>
    public Incident Create(string accountId, CreateIncident request)
    {
        var incident = new Incident($"inc_{Guid.NewGuid():N}"[..16], accountId, request.ProjectId, request.Title, request.Severity, request.MonitorId, time.GetUtcNow());
        _incidents[incident.Id] = incident;
        return incident;
    }

    /// <summary>The newest incidents of a project, at most 100, newest first.</summary>
    public IReadOnlyList<Incident> Recent(string accountId, string projectId) =>
        [.. _incidents.Values.Where(i => i.AccountId == accountId && i.ProjectId == projectId).OrderByDescending(i => i.CreatedAt).Take(100)];
}

/// <summary>The body of <c>GET /api/presence</c>.</summary>
/// <param name="Users">The users online in the caller's account.</param>
public sealed record OnlineUsers(IReadOnlyList<OnlineUser> Users);

/// <summary>The HTTP API: incidents and statistics, with the demo bearer tokens.</summary>
public static class DashboardApi
{
    private const int MaxBodyBytes = 64 * 1024;

    /// <summary>Maps <c>POST /api/incidents</c> and <c>GET /api/stats</c>.</summary>
    public static void MapDashboardApi(this WebApplication app)
    {
        app.MapPost("/api/incidents", CreateIncidentAsync);
        app.MapGet("/api/incidents", RecentIncidents);
        app.MapGet("/api/stats", Stats);
        app.MapGet("/api/presence", PresenceAsync);
        app.MapPost("/api/users/{userId}/notify", NotifyUserAsync);
        app.MapPost("/api/users/{userId}/disconnect", DisconnectUserAsync);
    }

    /// <summary>Who is online in the caller's account, across every instance: status and number of sockets.</summary>
    private static async Task<IResult> PresenceAsync(HttpContext http, ISocketPresence presence, IPresenceStore statuses)
    {
        if (DemoUsers.FromBearer(http.Request) is not { } caller)
        {
            return Unauthorized(http);
        }

        return Results.Ok(new OnlineUsers(await PresenceTracker.OnlineAsync(presence, statuses, caller.AccountId)));
    }

    /// <summary>A note for every socket of a user of the caller's account, on every instance.</summary>
    private static async Task<IResult> NotifyUserAsync(string userId, HttpContext http, ISocketEmitter emitter)
    {
        if (DemoUsers.FromBearer(http.Request) is not { } caller)
        {
            return Unauthorized(http);
        }

        if (DemoUsers.Find(userId) is not { } target || target.AccountId != caller.AccountId)
        {
            return Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "No such user in your account.");
        }

        var body = await ReadBodyAsync(http.Request);
        if (body is null)
        {
            return Results.Problem(statusCode: StatusCodes.Status413PayloadTooLarge, title: $"The body is larger than {MaxBodyBytes} bytes.");
        }

        if (!NotifyUser.Serializer.TryDeserialize(body, out var request, out var errors))
        {
            return Results.ValidationProblem(
                errors.GroupBy(e => e.Path).ToDictionary(g => g.Key, g => g.Select(e => e.Message).ToArray()),
                title: "The note is not valid.");
        }

        await emitter.EmitToUserAsync(target.UserId, new Notification(caller.UserId, request.Text), cancellationToken: http.RequestAborted);
        return Results.Accepted();
    }

    /// <summary>Closes every socket of a user of the caller's account, on every instance (1008: clients do not reconnect).</summary>
    private static async Task<IResult> DisconnectUserAsync(string userId, HttpContext http, ISocketEmitter emitter)
    {
        if (DemoUsers.FromBearer(http.Request) is not { } caller)
        {
            return Unauthorized(http);
        }

        if (DemoUsers.Find(userId) is not { } target || target.AccountId != caller.AccountId)
        {
            return Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "No such user in your account.");
        }

        await emitter.DisconnectUserAsync(target.UserId, $"Disconnected by {caller.UserId}", http.RequestAborted);
        return Results.Accepted();
    }

    /// <summary>The newest incidents of a project of the caller's account (what a page refetches when it could not recover).</summary>
    private static IResult RecentIncidents(string? projectId, HttpContext http, IncidentStore store)
    {
        if (DemoUsers.FromBearer(http.Request) is not { } user)
        {
            return Unauthorized(http);
        }

        if (string.IsNullOrEmpty(projectId) || projectId.Length > 64)
        {
            return Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "projectId must be 1 to 64 characters.");
        }

        return Results.Ok(store.Recent(user.AccountId, projectId));
    }

    private static async Task<IResult> CreateIncidentAsync(HttpContext http, IncidentStore store, ISocketEmitter emitter)
    {
        if (DemoUsers.FromBearer(http.Request) is not { } user)
        {
            return Unauthorized(http);
        }

        var body = await ReadBodyAsync(http.Request);
        if (body is null)
        {
            return Results.Problem(statusCode: StatusCodes.Status413PayloadTooLarge, title: $"The body is larger than {MaxBodyBytes} bytes.");
        }

        // The generated validator of the shared contract checks HTTP bodies too: one set of rules.
        if (!CreateIncident.Serializer.TryDeserialize(body, out var request, out var errors))
        {
            return Results.ValidationProblem(
                errors.GroupBy(e => e.Path).ToDictionary(g => g.Key, g => g.Select(e => e.Message).ToArray()),
                title: "The incident is not valid.");
        }

        var incident = store.Create(user.AccountId, request);
        try
        {
            await emitter.EmitAsync(
                Topics.Incidents(user.AccountId, incident.ProjectId),
                new IncidentCreated(incident.Id, incident.Title, incident.Severity, incident.MonitorId),
                cancellationToken: http.RequestAborted);
        }
        catch (SocketUnavailableException ex)
        {
            // Kept, but not announced (Redis is away): the pages that reload incidents will see it.
            return Results.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "The incident was stored but could not be announced now.", detail: ex.Message);
        }

        return Results.Created($"/api/incidents/{incident.Id}", incident);
    }

    private static IResult Stats(HttpContext http, ISocketProvider provider, SocketHub hub)
    {
        if (DemoUsers.FromBearer(http.Request) is not { } user)
        {
            return Unauthorized(http);
        }

        var topics = hub.GetSubscriberCounts()
            .Where(t => Topics.BelongsTo(t.Key, user.AccountId))
            .OrderBy(t => t.Key, StringComparer.Ordinal)
            .ToDictionary(t => t.Key, t => t.Value, StringComparer.Ordinal);
        return Results.Ok(new Stats(provider.ConnectionCount, topics));
    }

    private static IResult Unauthorized(HttpContext http)
    {
        http.Response.Headers.WWWAuthenticate = "Bearer";
        return Results.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "A valid bearer token is required.");
    }

    private static async Task<byte[]?> ReadBodyAsync(HttpRequest request)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[8192];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, request.HttpContext.RequestAborted)) > 0)
        {
            if (buffer.Length + read > MaxBodyBytes)
            {
                return null;
            }

            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
    }
}

/// <summary>The reply of <c>GET /api/stats</c>.</summary>
public sealed record Stats(int Connections, IReadOnlyDictionary<string, int> Topics);
