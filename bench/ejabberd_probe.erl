%% Which Erlang processes of an ejabberd are busy: run on the bench's ejabberd node by
%% `python -m bench.fanout_bench --probe` (bench/ejabberd_probe.py compiles and loads it).
%%
%% For Ms milliseconds it samples the status of every process every 2 ms and reports
%% the share of samples each was running or runnable (waiting for a scheduler counts as
%% busy: a process at 100% is the one everything else waits on, or the VM is short of
%% CPU), its reductions meanwhile, its mailbox, and the schedulers' wall-time use.
-module(ejabberd_probe).
-export([run/1, sample/1]).

run([NodeName, MsText]) ->
    Node = list_to_atom(NodeName),
    Ms = list_to_integer(MsText),
    pong = net_adm:ping(Node),
    {?MODULE, Beam, File} = code:get_object_code(?MODULE),
    {module, ?MODULE} = rpc:call(Node, code, load_binary, [?MODULE, File, Beam]),
    io:format("~s", [rpc:call(Node, ?MODULE, sample, [Ms], Ms + 30000)]),
    halt().

sample(Ms) ->
    erlang:system_flag(scheduler_wall_time, true),
    Wall0 = lists:sort(erlang:statistics(scheduler_wall_time)),
    Procs = erlang:processes(),
    Red0 = maps:from_list([{P, reductions(P)} || P <- Procs]),
    {Busy, Samples} = loop(Procs, erlang:monotonic_time(millisecond) + Ms, #{}, 0),
    Wall1 = lists:sort(erlang:statistics(scheduler_wall_time)),
    Use = [{Id, round(100 * (A1 - A0) / max(1, T1 - T0))}
           || {{Id, A0, T0}, {Id, A1, T1}} <- lists:zip(Wall0, Wall1), A1 > A0],
    Rows = [{maps:get(P, Busy, 0), P, reductions(P) - maps:get(P, Red0, 0)} || P <- Procs],
    Top = lists:sublist(lists:reverse(lists:sort(Rows)), 6),
    Total = lists:sum([R || {_, _, R} <- Rows]),
    [io_lib:format("  probe: ~b samples, scheduler wall use % ~w, ~b reductions~n",
                   [Samples, Use, Total])
     | [io_lib:format("  probe: busy ~3b% reductions ~9b mailbox ~6w ~w~n",
                      [100 * C div max(1, Samples), R, mailbox(P), name(P)])
        || {C, P, R} <- Top]].

loop(Procs, End, Busy, Samples) ->
    case erlang:monotonic_time(millisecond) >= End of
        true -> {Busy, Samples};
        false ->
            Me = self(),
            Busy2 = lists:foldl(
                      fun(P, Acc) when P =:= Me -> Acc;
                         (P, Acc) ->
                              case erlang:process_info(P, status) of
                                  {status, S} when S =:= running; S =:= runnable ->
                                      maps:update_with(P, fun(V) -> V + 1 end, 1, Acc);
                                  _ -> Acc
                              end
                      end, Busy, Procs),
            timer:sleep(2),
            loop(Procs, End, Busy2, Samples + 1)
    end.

reductions(P) ->
    case erlang:process_info(P, reductions) of {reductions, R} -> R; _ -> 0 end.

mailbox(P) ->
    case erlang:process_info(P, message_queue_len) of {_, Q} -> Q; _ -> gone end.

name(P) ->
    case erlang:process_info(P, registered_name) of
        {registered_name, Name} -> Name;
        _ ->
            case erlang:process_info(P, dictionary) of
                {dictionary, D} ->
                    proplists:get_value('$initial_call', D,
                                        element(2, erlang:process_info(P, initial_call)));
                _ -> gone
            end
    end.
